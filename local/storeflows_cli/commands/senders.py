"""`storeflows senders`: apply sender files, list the profiles, delete one no message names."""

from __future__ import annotations

import argparse

from storeflows_cli.commands import Build
from storeflows_cli.output import emit, load_files, table, target_problems


def senders_apply(args) -> int:
    from storeflows.admin.files import load_sender_yaml
    from storeflows.admin.messages import sender_problems
    from storeflows.admin.senders import apply_sender
    from storeflows.admin.stores import require_store
    from storeflows_cli.cli import use_target

    profiles = load_files(args, lambda text, path: load_sender_yaml(text, source=str(path), store=args.store))
    use_target(args)  # after the files: their mistakes are reported without a stack
    for store_id in {profile.store_id for profile in profiles}:
        require_store(store_id)  # before anything is saved
    target_problems(args, profiles, lambda profile: sender_problems(profile, "address"))
    results, lines = [], []
    for profile in profiles:
        saved, users = apply_sender(profile)
        results.append(
            {
                "store": saved.store_id,
                "sender": saved.sender_id,
                "name": saved.name,
                "address": saved.address,
                "reply_to": saved.reply_to,
                "used_by": users,
            }
        )
        lines.append(
            f"sender {saved.sender_id} of store {saved.store_id}: saved ({saved.name} <{saved.address}>"
            + (f", replies to {saved.reply_to}" if saved.reply_to else "")
            + ")"
        )
        if users:
            lines.append(f"  named by messages {', '.join(users)}: their next sends come from it")
    emit(args, results, "\n".join(lines))
    return 0


def senders_delete(args) -> int:
    from storeflows.admin.senders import delete_sender

    delete_sender(args.store, args.sender)
    emit(
        args,
        {"store": args.store, "sender": args.sender, "deleted": True},
        f"sender {args.sender} of store {args.store}: deleted",
    )
    return 0


def senders_list(args) -> int:
    from storeflows.admin.senders import list_senders

    rows = list_senders(args.store)
    text = (
        table(
            [{**row, "used_by": ", ".join(row["used_by"]) or None} for row in rows],
            [
                ("sender", "SENDER"),
                ("name", "NAME"),
                ("address", "FROM"),
                ("reply_to", "REPLY-TO"),
                ("used_by", "MESSAGES"),
            ],
        )
        if rows
        else f"store {args.store} has no sender profiles"
    )
    emit(args, rows, text)
    return 0


def register(groups: argparse._SubParsersAction, build: Build) -> None:
    senders = build.group(groups, "senders", "sender profiles (name, from, reply-to), defined once, named by messages")
    build.apply_command(
        senders,
        senders_apply,
        "save sender files",
        "Saves each sender file: store, sender (its id), name, address (the From, which must\n"
        "belong to the stack's SES identity) and reply_to. Messages name a profile with\n"
        "`sender: <id>`; every later send of them comes from the profile as it is then, also in\n"
        "runs in flight. All files are checked first: if any has a problem, nothing is saved.",
    )
    sub = build.command(senders, "list", senders_list, "the store's sender profiles and the messages naming each")
    sub.add_argument("store")
    sub = build.command(
        senders,
        "delete",
        senders_delete,
        "delete a sender profile that no message names",
        "Deletes the profile. Refused while a message names it (every send of that message\n"
        "would fail): the refusal lists them; apply them with another sender first.",
    )
    sub.add_argument("store")
    sub.add_argument("sender")
