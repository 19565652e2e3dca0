"""`storeflows messages`: apply message files, list, show and delete them, preview one as HTML,
send a test."""

from __future__ import annotations

import argparse
from pathlib import Path

from storeflows_cli.commands import Build
from storeflows_cli.output import CliError, emit, load_files, table, target_problems


def messages_apply(args) -> int:
    from storeflows.admin.files import load_message_yaml
    from storeflows.admin.messages import apply_message, message_problems
    from storeflows.admin.stores import require_store
    from storeflows_cli.cli import use_target

    messages = load_files(
        args, lambda text, path: load_message_yaml(text, base_dir=path.parent, source=str(path), store=args.store)
    )
    use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {message.store_id for message in messages}:
        require_store(store_id)  # before anything is saved
    target_problems(args, messages, message_problems)
    results, lines = [], []
    for message in messages:
        outcome = apply_message(message)
        saved, users = outcome.message, outcome.published_users
        languages = sorted(saved.variants)
        results.append(
            {
                "store": saved.store_id,
                "message": saved.message_id,
                "purpose": saved.purpose.value,
                "languages": languages,
                "fallback_language": saved.default_language,
                "published_workflows_using_it": users,
                "warnings": list(outcome.warnings),
            }
        )
        lines.append(
            f"message {saved.message_id} of store {saved.store_id}: saved ({saved.purpose.value}; "
            f"languages {', '.join(languages)}; fallback {saved.default_language})"
        )
        if users:
            lines.append(f"  used by published workflows {', '.join(users)}: their next sends use this content")
        lines += [f"  warning: {warning}" for warning in outcome.warnings]
    emit(args, results, "\n".join(lines))
    return 0


def messages_list(args) -> int:
    from storeflows.admin.messages import list_store_messages

    rows = list_store_messages(args.store)
    text = (
        table(
            [
                {**row, "languages": ", ".join(row["languages"]), "used_by": ", ".join(row["used_by"]) or None}
                for row in rows
            ],
            [
                ("message", "MESSAGE"),
                ("purpose", "PURPOSE"),
                ("languages", "LANGUAGES"),
                ("sender", "SENDER"),
                ("coupon", "COUPON"),
                ("used_by", "NAMED BY WORKFLOWS"),
            ],
        )
        if rows
        else f"store {args.store} has no messages (storeflows messages apply FILE.yaml)"
    )
    emit(args, rows, text)
    return 0


def messages_show(args) -> int:
    from storeflows.admin.files import message_file_data, message_yaml
    from storeflows.admin.messages import show_message

    message, users = show_message(args.store, args.message)
    header = f"# named by workflows {', '.join(users)}" if users else "# named by no workflow"
    emit(args, {**message_file_data(message), "used_by": users}, f"{header}\n{message_yaml(message).rstrip()}")
    return 0


def messages_delete(args) -> int:
    from storeflows.admin.messages import delete_message

    delete_message(args.store, args.message)
    emit(
        args,
        {"store": args.store, "message": args.message, "deleted": True},
        f"message {args.message} of store {args.store}: deleted",
    )
    return 0


def messages_preview(args) -> int:
    from storeflows.admin.messages import preview_message

    preview = preview_message(args.store, args.message, email=args.email, order_id=args.order, language=args.language)
    try:
        Path(args.out).write_text(preview.rendered.html, "utf-8")
    except OSError as err:
        raise CliError(f"cannot write {args.out}: {err.strerror}") from None
    data = {
        "out": args.out,
        "subject": preview.rendered.subject,
        "language": preview.language,
        "from": preview.sender.model_dump(),
        "contact": preview.contact.email,
        "order": preview.order.id,
        "sample_contact": preview.sample_contact,
        "sample_order": preview.sample_order,
        "text": preview.rendered.text,
        "warnings": list(preview.warnings),
    }
    samples = [
        what for what, sample in (("contact", preview.sample_contact), ("order", preview.sample_order)) if sample
    ]
    lines = [
        f"wrote {args.out}",
        f"from: {preview.sender.name} <{preview.sender.address}>",
        f"subject: {preview.rendered.subject}",
        f"language {preview.language}, contact {preview.contact.email}, order {preview.order.id}",
    ]
    if samples:
        lines.append(f"sample data for the {' and '.join(samples)} (none on record)")
    lines += [f"warning: {warning}" for warning in preview.warnings]
    emit(args, data, "\n".join(lines))
    return 0


def messages_test_send(args) -> int:
    from storeflows.admin.messages import send_test

    result = send_test(
        args.store, args.message, to=args.to, email=args.email, order_id=args.order, language=args.language
    )
    emit(
        args,
        result,
        f"sent {result['subject']!r} to {result['to']} (language {result['language']}; "
        f"SES message {result['ses_message_id']}); recorded on no contact",
    )
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    messages = build.group(groups, "messages", "messages: apply, list, show, delete, preview, test-send")
    build.apply_command(
        messages,
        messages_apply,
        "save message files",
        "Saves each message file: store, message (its id), purpose (transactional|marketing),\n"
        "sender (a sender profile's id, or {name, address, reply_to} inline; the From must\n"
        "belong to the stack's SES identity), fallback_language, and variants per language\n"
        "(en: {subject, html_file or html, text_file or text}); files are relative to the YAML\n"
        "file. Optional coupon: {type: static, code: SPRING10} or {type: dynamic, pool: P}\n"
        "(a pool imported with `coupons import`; publishing checks it has codes left). Runs\n"
        "read messages when they send: the new content is used from the next send on, also\n"
        "by runs in flight. All files are checked first: if any has a problem, nothing is\n"
        "saved. A marketing variant whose HTML or text body has no {{ unsubscribe_url }} is\n"
        "saved with a warning.",
    )

    sub = build.command(
        messages, "list", messages_list, "the store's messages and the workflows naming each", target=True
    )
    sub.add_argument("store")
    sub = build.command(
        messages,
        "show",
        messages_show,
        "a message as a message file (every part inline)",
        "Prints the message as a message file, with the workflows naming it: save it, edit it and\n"
        "`messages apply` it back.",
    )
    sub.add_argument("store")
    sub.add_argument("message")
    sub = build.command(
        messages,
        "delete",
        messages_delete,
        "delete a message that no workflow names",
        "Deletes the message. Refused while a workflow names it, in its published, paused or\n"
        "never-published version or in a draft (every run reaching it would fail): the refusal\n"
        "lists them; point them at another message first. A run in flight that started with\n"
        "settings naming it (before an edit) still sends it, and fails if it is gone.",
    )
    sub.add_argument("store")
    sub.add_argument("message")

    def render_options(sub):
        sub.add_argument(
            "--order", metavar="ORDER_ID", help="one of the contact's recorded orders (default: the latest)"
        )
        sub.add_argument("--language", help="render this language's variant (default: the contact's language)")

    sub = build.command(
        messages,
        "preview",
        messages_preview,
        "render a message to an HTML file",
        "Renders a message as a send would, for an existing contact and one of their recorded\n"
        "orders; sample data stands in for what is not on record. Writes the HTML part.",
    )
    sub.add_argument("store")
    sub.add_argument("message")
    sub.add_argument("--email", required=True, help="the contact to render for")
    render_options(sub)
    sub.add_argument("--out", required=True, metavar="FILE.html")
    sub = build.command(
        messages,
        "test-send",
        messages_test_send,
        "send a rendered message to a test address",
        "Renders like preview and sends it through SES with the stack's configuration set,\n"
        "subject prefixed [TEST]. Recorded on no contact. With SES in the sandbox, --to must\n"
        "be a verified address.",
    )
    sub.add_argument("store")
    sub.add_argument("message")
    sub.add_argument("--to", required=True, metavar="ADDRESS")
    sub.add_argument("--email", metavar="CONTACT", help="render for this contact (default: --to)")
    render_options(sub)
