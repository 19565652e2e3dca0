"""What `sam build` would produce, checked without Docker or the SAM CLI.

Each function is imported from a directory laid out like the deployed Lambda: its CodeUri
as the function root and the layer under python/ (Lambda's /opt/python), in an isolated
interpreter that cannot see the repository, tests/ or local/. That catches a handler that
only imports because pytest's pythonpath (or moto, or the local stack) happens to be there.
The layer's pinned requirements are resolved with pip for the runtime and architecture the
template declares."""

from __future__ import annotations

import ast
import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = {"SenderIdentity": "example.com"}
TEMPLATE = Template(ROOT, PARAMETERS)
FUNCTIONS = TEMPLATE.of_type("AWS::Serverless::Function")
GLOBALS = TEMPLATE.document.get("Globals", {}).get("Function", {})
FORBIDDEN_MODULES = ("moto", "pytest", "_pytest", "storeflows_local")
LAMBDA_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}

# Runs inside the isolated interpreter. sys.path is what Lambda gives (function root, then
# /opt/python) plus the stdlib and the venv's site-packages, which stand in for the runtime's
# boto3 and the layer's third-party dependencies. Never the repo root, tests/ or local/.
IMPORT_PROBE = textwrap.dedent(
    """
    import importlib, importlib.util, json, sys
    config = json.loads(sys.argv[1])
    stdlib = [p for p in sys.path if "site-packages" not in p]
    sys.path[:] = [config["function_dir"], config["layer_python"], *stdlib, *config["site_packages"]]
    module = importlib.import_module(config["module"])
    handler = getattr(module, config["handler"], None)
    storeflows = sys.modules.get("storeflows")
    print(json.dumps({
        "callable": callable(handler),
        "module_file": getattr(module, "__file__", None),
        "storeflows_file": getattr(storeflows, "__file__", None),
        "forbidden_loaded": sorted(
            name for name in sys.modules
            if any(name == bad or name.startswith(bad + ".") for bad in config["forbidden"])
        ),
        "local_findable": importlib.util.find_spec("storeflows_local") is not None,
        "sys_path": sys.path,
    }))
    """
)


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)


@pytest.fixture(scope="module")
def built_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer as sam build lays it out: ContentUri under python/ (Lambda's /opt/python)."""
    (content_uri,) = TEMPLATE.layer_dirs()
    layer_python = tmp_path_factory.mktemp("layer") / "python"
    _copy_tree(content_uri, layer_python)
    return layer_python


def test_template_declares_functions():
    """The parametrization below is not empty."""
    assert FUNCTIONS, "template.yaml declares no AWS::Serverless::Function"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_imports_from_a_lambda_like_build(logical_id: str, built_layer: Path, tmp_path: Path):
    """The deployed function can import its handler: only its CodeUri, the layer and
    third-party packages are on sys.path, and no test or local-stack module gets loaded."""
    properties = FUNCTIONS[logical_id]["Properties"]
    module, handler = properties["Handler"].rsplit(".", 1)
    function_dir = tmp_path / "function"
    _copy_tree(ROOT / properties["CodeUri"], function_dir)
    site_packages = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    config = {
        "function_dir": str(function_dir),
        "layer_python": str(built_layer),
        "site_packages": site_packages,
        "module": module,
        "handler": handler,
        "forbidden": list(FORBIDDEN_MODULES),
    }
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        **TEMPLATE.placeholder_environment(TEMPLATE.function(logical_id)),
        "TABLE_NAME": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", IMPORT_PROBE, json.dumps(config)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, f"{logical_id}: importing {module} failed:\n{result.stderr}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    forbidden_dirs = [str(ROOT), str(ROOT / "tests"), str(ROOT / "local")]
    assert not set(report["sys_path"]) & set(forbidden_dirs), report["sys_path"]
    assert not report["local_findable"], "storeflows_local is importable: the probe is not isolated"
    assert report["callable"], f"{properties['Handler']} is not a callable"
    assert report["module_file"].startswith(str(function_dir)), report["module_file"]
    assert report["storeflows_file"] is None or report["storeflows_file"].startswith(str(built_layer)), (
        f"storeflows came from {report['storeflows_file']}, not the layer"
    )
    assert report["forbidden_loaded"] == [], f"{logical_id} loads test/local code: {report['forbidden_loaded']}"


# --- the layer ships no test or local code -----------------------------------------------------


def forbidden_imports(source: str, filename: str = "<source>") -> list[str]:
    """Imports of test or local-stack modules in Python source: import statements anywhere
    (including inside functions, try blocks and TYPE_CHECKING) and importlib/__import__ calls."""
    found = []
    roots = {name.split(".")[0] for name in FORBIDDEN_MODULES}

    def flag(name: str | None, line: int) -> None:
        if name and name.split(".")[0] in roots:
            found.append(f"{filename}:{line}: {name}")

    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                flag(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            flag(node.module, node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            called = ast.unparse(node.func)
            if called in ("__import__", "importlib.import_module", "import_module"):
                flag(str(node.args[0].value), node.lineno)
    return found


def test_layer_source_imports_no_test_or_local_code():
    """Nothing under layers/ imports moto, pytest or storeflows_local (absent in Lambda)."""
    sources = sorted((ROOT / "layers").rglob("*.py"))
    assert sources, "no Python source under layers/"
    found = [hit for path in sources for hit in forbidden_imports(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "\n".join(found)


def test_forbidden_import_scan_catches_hidden_imports():
    """Control: the scan above sees plain, nested, from- and dynamic imports, not look-alikes."""
    source = textwrap.dedent(
        """
        import json
        import motorway
        from pytest_like import x
        def f():
            from moto import mock_aws
        try:
            import storeflows_local.stack as s
        except ImportError:
            pass
        importlib.import_module("pytest")
        """
    )
    assert forbidden_imports(source) == [
        "<source>:6: moto",
        "<source>:8: storeflows_local.stack",
        "<source>:11: pytest",
    ]


def test_layer_ships_no_tests():
    """The layer contains no tests directory, test modules or conftest (they would be deployed)."""
    layer = ROOT / "layers" / "storeflows"
    test_like = [
        str(path.relative_to(ROOT))
        for path in layer.rglob("*")
        if (path.is_dir() and path.name in ("tests", "test"))
        or (
            path.is_file()
            and (path.name.startswith("test_") or path.name.endswith("_test.py") or path.name == "conftest.py")
        )
    ]
    assert test_like == []


# --- the layer's dependencies resolve for Lambda -----------------------------------------------


def _pinned_requirements(path: Path) -> list[Requirement]:
    """Every requirement line of a requirements file; fails on anything not pinned with ==."""
    requirements = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            pytest.fail(f"{path.name}:{number}: not a plain pinned requirement ({error}): {raw!r}")
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==" and "*" not in specifiers[0].version, (
            f"{path.name}:{number}: {line!r} is not pinned with =="
        )
        requirements.append(requirement)
    return requirements


def _lambda_platform() -> tuple[str, str]:
    """(python version "3.12", machine "aarch64") from the template's Globals."""
    runtime = GLOBALS["Runtime"]
    assert runtime.startswith("python"), runtime
    (architecture,) = GLOBALS.get("Architectures", ["x86_64"])
    return runtime.removeprefix("python"), LAMBDA_ARCH[architecture]


def _system_pip_cert() -> str | None:
    """The CA bundle a pip config on this machine points at (configs themselves are ignored)."""
    for config_path in (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"), Path.home() / ".config/pip/pip.conf"):
        parser = configparser.ConfigParser()
        try:
            parser.read(config_path)
        except configparser.Error:
            continue
        for section in ("install", "global"):
            cert = parser.get(section, "cert", fallback=None)
            if cert and Path(cert).is_file():
                return cert
    return None


def _pip_environment() -> dict[str, str]:
    """This environment minus pip settings that would change what gets resolved (constraints,
    local wheel directories, --user/--prefix); index, proxy and certificate settings stay."""
    keep = {
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_CERT",
        "PIP_CLIENT_CERT",
        "PIP_TRUSTED_HOST",
        "PIP_PROXY",
        "PIP_CACHE_DIR",
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in keep}
    environment.update(PIP_CONSTRAINT="", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    return environment


def test_layer_is_built_for_the_functions_runtime_and_architecture():
    """sam build makes the layer for the runtime/architecture every function runs on."""
    (layer,) = TEMPLATE.of_type("AWS::Serverless::LayerVersion").values()
    runtime, architectures = GLOBALS["Runtime"], GLOBALS["Architectures"]
    for logical_id, function in FUNCTIONS.items():
        assert function["Properties"].get("Runtime", runtime) == runtime, logical_id
        assert function["Properties"].get("Architectures", architectures) == architectures, logical_id
    assert runtime in layer["Properties"]["CompatibleRuntimes"]
    assert set(architectures) <= set(layer["Properties"]["CompatibleArchitectures"])
    assert layer.get("Metadata", {}).get("BuildMethod") == runtime
    assert layer.get("Metadata", {}).get("BuildArchitecture") in architectures


def test_layer_requirements_are_all_pinned():
    """Every layer dependency is pinned with ==, so each build ships the versions tested."""
    requirements = _pinned_requirements(ROOT / "layers" / "storeflows" / "requirements.txt")
    assert requirements, "layers/storeflows/requirements.txt lists no requirement"


def test_pinned_requirements_parser_rejects_unpinned(tmp_path: Path):
    """Control: a range, a wildcard or an include line fails the pin check."""
    for line in ("jinja2>=3.1", "pydantic==2.*", "-r other.txt", "jinja2"):
        path = tmp_path / "requirements.txt"
        path.write_text(f"# comment\nboto3==1.0\n{line}\n")
        with pytest.raises((AssertionError, pytest.fail.Exception)):
            _pinned_requirements(path)


def test_layer_requirements_resolve_for_lambda_arm64_from_pypi(tmp_path: Path):
    """The layer's pins have wheels for the Lambda runtime and architecture (network: PyPI).

    A pin with no cp312/aarch64 wheel would make `sam build` fail (or ship an x86 wheel).
    Needs the package index; if it is unreachable this test fails with pip's message."""
    requirements_file = ROOT / "layers" / "storeflows" / "requirements.txt"
    requirements = _pinned_requirements(requirements_file)
    python_version, machine = _lambda_platform()
    report_path = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:",
        "--platform", f"manylinux2014_{machine}",
        "--platform", f"manylinux_2_17_{machine}",
        "--platform", f"manylinux_2_28_{machine}",
        "--python-version", python_version, "--implementation", "cp",
        "--target", str(tmp_path / "target"),
        "-r", str(requirements_file),
        "--quiet", "--report", str(report_path),
        "--timeout", "15", "--retries", "2",
    ]  # fmt: skip
    cert = _system_pip_cert()
    if cert:
        command += ["--cert", cert]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=_pip_environment(), timeout=120)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"pip did not finish in {error.timeout}s (is the package index reachable?)\n{error.stderr}")
    assert result.returncode == 0, (
        f"pip could not resolve the layer for python{python_version}/{machine}:\n{result.stderr}"
    )

    installs = json.loads(report_path.read_text())["install"]
    resolved = {canonicalize_name(item["metadata"]["name"]): item for item in installs}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in resolved, f"{requirement.name} not in pip's resolution"
        (pin,) = requirement.specifier
        assert resolved[name]["metadata"]["version"] == pin.version, f"{requirement.name} resolved to another version"
        assert set(requirement.extras) <= set(resolved[name].get("requested_extras") or []), requirement
    abi = f"cp{python_version.replace('.', '')}"
    for item in installs:
        filename = item["download_info"]["url"].rsplit("/", 1)[-1]
        assert filename.endswith(".whl"), filename
        _, _, _, tags = parse_wheel_filename(filename)
        assert any(
            tag.platform == "any" or (machine in tag.platform and (tag.interpreter == abi or tag.abi == "abi3"))
            for tag in tags
        ), f"{filename} is not for {abi}/{machine}"


# --- no orphan function code -----------------------------------------------------------------


def test_every_function_folder_is_deployed_by_exactly_one_function():
    """Each functions/<name>/ is the CodeUri of exactly one function: no dead code that looks
    deployed, and no folder shared by two functions by copy-paste."""
    users: dict[Path, list[str]] = {}
    for logical_id, function in FUNCTIONS.items():
        users.setdefault((ROOT / function["Properties"]["CodeUri"]).resolve(), []).append(logical_id)
    folders = sorted(
        path.resolve() for path in (ROOT / "functions").iterdir() if path.is_dir() and path.name != "__pycache__"
    )
    assert folders, "no folders under functions/"
    wrong = {
        str(folder.relative_to(ROOT)): users.get(folder, []) for folder in folders if len(users.get(folder, [])) != 1
    }
    assert not wrong, f"function folders not used by exactly one function: {wrong}"
    outside = [str(path) for path in users if path.parent != (ROOT / "functions").resolve()]
    assert not outside, f"CodeUri outside functions/: {outside}"


def test_the_tracer_patches_botocore_alone():
    """As deployed (LAMBDA_TASK_ROOT set, tracing on), X-Ray patches only the AWS SDK: its
    default patches every library it knows, importing them at each cold start."""
    probe = (
        "import sys, storeflows.observability\n"
        "from aws_xray_sdk.core import patcher\n"
        "print(sorted(patcher._PATCHED_MODULES), 'sqlite3' in sys.modules)"
    )
    environment = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_REGION": "us-east-1",
        "PYTHONPATH": str(ROOT / "layers" / "storeflows"),
    }
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=environment, check=True, timeout=60
    )
    assert result.stdout.split("\n")[0] == "['botocore'] False"
