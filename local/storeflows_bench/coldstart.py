"""Part 3 of the bench: how long each function's handler module takes to import in a fresh
interpreter, next to `import boto3` alone, measured in the same rounds.

Each import runs as Lambda would run it: an isolated interpreter (`-I`) whose path is the
function's CodeUri, the layer (our `storeflows` package) and the layer's pinned
dependencies, then the standard library, and nothing else. The dependencies are copied
from this venv, file by file as pip installed them (compiled, as `sam build`'s pip install
leaves them), so nothing the developer tools bring (requests, moto) is there for the X-Ray
SDK to patch. The environment is template.yaml's, with placeholders for resources, plus
LAMBDA_TASK_ROOT, so Powertools' Tracer is on as it is in the deployed functions
(Tracing: Active). Rounds alternate the targets, so a busy moment of the machine hits all
of them alike; the median is reported. The interpreters run one per core at a time: each
is single-threaded, so they do not slow each other, and the bench takes half the time on
2 cores.

The build is timed as `sam build` ships it: our own modules are compiled at every cold
start, since Lambda's code directories are read-only and Python cannot keep the bytecode.
What shipping the bytecode would save is measured directly: compiling the modules of ours
that the handler imported. One more import per function under `-X importtime` names what is
heavy."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from storeflows_local.template import Template

ROOT = Path(__file__).resolve().parents[2]
BOTO3 = "boto3"

START_MARK = "-- the handler's import starts here"
PROBE = textwrap.dedent(
    f"""
    import importlib, json, os, sys, time
    START_MARK = {START_MARK!r}
    config = json.loads(sys.argv[1])
    stdlib = [p for p in sys.path if "site-packages" not in p]
    sys.path[:] = [*config["paths"], *stdlib]
    print(START_MARK, file=sys.stderr, flush=True)
    started = time.perf_counter()
    importlib.import_module(config["module"])
    elapsed = (time.perf_counter() - started) * 1000
    ours = sorted(m.__file__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and m.__file__.startswith(tuple(config["paths"][:2])))
    print(json.dumps({{"ms": elapsed, "ours": ours}}), flush=True)
    os._exit(0)  # the interpreter's teardown is no part of a cold start, and slow
    """
)


@dataclass
class Target:
    name: str
    module: str
    paths: list[str]
    environment: dict[str, str]


@dataclass
class ColdStart:
    runs: int
    boto3_ms: float
    source_ms: dict[str, float]  # function -> median import, as sam build ships it
    compile_ms: dict[str, float]  # function -> compiling the modules of ours it imported
    heaviest: dict[str, list[tuple[str, float]]]  # function -> (top-level package, ms)

    def ratio(self, function: str) -> float:
        return self.source_ms[function] / self.boto3_ms


def measure(runs: int, *, progress=None) -> ColdStart:
    template = Template(ROOT, {"SenderIdentity": "example.com"})
    with tempfile.TemporaryDirectory(prefix="storeflows-coldstart-") as scratch:
        dependencies = Path(scratch) / "dependencies"
        _install_layer_requirements(template, dependencies)
        functions = _build(template, Path(scratch) / "build", dependencies)
        targets = [Target(BOTO3, BOTO3, [str(dependencies)], _environment(None)), *functions]
        timings: dict[str, list[float]] = {}
        ours: dict[str, list[str]] = {}
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as interpreters:
            for round_number in range(runs):
                if progress is not None:
                    progress(f"  cold start round {round_number + 1}/{runs}")
                for target, (ms, files) in zip(targets, interpreters.map(_import, targets), strict=True):
                    ours[target.name] = files
                    timings.setdefault(target.name, []).append(ms)
            heaviest = dict(
                zip((target.name for target in functions), interpreters.map(_heaviest_imports, functions), strict=True)
            )
        compile_ms = {target.name: _compile_ms(ours[target.name], runs) for target in functions}
    median = {name: statistics.median(values) for name, values in timings.items()}
    return ColdStart(
        runs=runs,
        boto3_ms=median.pop(BOTO3),
        source_ms=median,
        compile_ms=compile_ms,
        heaviest=heaviest,
    )


def _install_layer_requirements(template: Template, target: Path) -> None:
    """The layer's pinned requirements, copied from this venv's site-packages with exactly
    the files pip recorded for them (their bytecode included)."""
    (layer,) = template.layer_dirs()
    for line in (layer / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        # Lines are `name==version` or `name[extras]==version` (test_build checks the pins).
        distribution = metadata.distribution(re.split(r"[\[=]", line, maxsplit=1)[0])
        for file in distribution.files or []:
            if file.parts[0] == "..":  # console scripts, outside site-packages
                continue
            source = Path(str(distribution.locate_file(file)))
            if source.is_file():
                (target / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / file)


def _build(template: Template, directory: Path, dependencies: Path) -> list[Target]:
    """Every function laid out as deployed: its code, and the layer (our package, then the
    dependencies Lambda finds in the same /opt/python)."""
    (layer,) = template.layer_dirs()
    layer_python = directory / "layer" / "python"
    _copy(layer, layer_python)
    targets = []
    for spec in template.functions():
        function_dir = directory / spec.logical_id
        _copy(spec.code_dir, function_dir)
        targets.append(
            Target(
                spec.logical_id,
                spec.module,
                [str(function_dir), str(layer_python), str(dependencies)],
                _environment(spec, template, function_dir),
            )
        )
    return targets


def _copy(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _environment(spec, template: Template | None = None, task_root: Path | None = None) -> dict[str, str]:
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "placeholder",
        "AWS_SECRET_ACCESS_KEY": "placeholder",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    if spec is not None and template is not None:
        environment.update(template.placeholder_environment(spec))
        environment.update(LAMBDA_TASK_ROOT=str(task_root), AWS_LAMBDA_FUNCTION_NAME=spec.logical_id)
    return environment


def _command(target: Target, *options: str) -> list[str]:
    config = {"paths": target.paths, "module": target.module}
    return [sys.executable, "-I", "-B", *options, "-c", PROBE, json.dumps(config)]


def _import(target: Target) -> tuple[float, list[str]]:
    """(milliseconds, the files of ours it imported)."""
    result = subprocess.run(
        _command(target),
        capture_output=True,
        text=True,
        env=target.environment,
        cwd=tempfile.gettempdir(),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {target.module} for {target.name} failed:\n{result.stderr}")
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["ms"], answer["ours"]


def _compile_ms(files: list[str], runs: int) -> float:
    """What a cold start spends compiling these sources (median of `runs`)."""
    sources = [(Path(file).read_text(), file) for file in files]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        for source, file in sources:
            compile(source, file, "exec")
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _heaviest_imports(target: Target, count: int = 5) -> list[tuple[str, float]]:
    """Import time by top-level package (own time of every module under it), dearest first."""
    result = subprocess.run(
        _command(target, "-X", "importtime"),
        capture_output=True,
        text=True,
        env=target.environment,
        cwd=tempfile.gettempdir(),
        timeout=120,
        check=True,
    )
    by_package: Counter[str] = Counter()
    own_imports = result.stderr.split(START_MARK, 1)[1]
    for line in own_imports.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        by_package[name.split(".")[0]] += int(own_us)
    return [(package, us / 1000) for package, us in by_package.most_common(count)]


def as_json(cold: ColdStart) -> dict:
    return {
        "runs": cold.runs,
        "boto3_ms": round(cold.boto3_ms, 1),
        "functions": {
            name: {
                "import_ms": round(cold.source_ms[name], 1),
                "ratio_to_boto3": round(cold.ratio(name), 2),
                "compiling_own_modules_ms": round(cold.compile_ms[name], 1),
                "heaviest_packages_ms": {package: round(ms, 1) for package, ms in cold.heaviest[name]},
            }
            for name in sorted(cold.source_ms)
        },
    }


if __name__ == "__main__":  # python -m storeflows_bench.coldstart [runs]
    print(json.dumps(as_json(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10)), indent=2))
