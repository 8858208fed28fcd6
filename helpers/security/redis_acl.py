"""Redis ACL users, checked on the broker: every command a user may run as the server decides it
(`ACL DRYRUN` of each command and subcommand the server knows; none is executed), and dangerous
commands tried for real, each outcome recorded as the error the broker gave."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from . import describe

KEY = "stream:acl-dry-run"  # a key every stream user's pattern allows: only the command counts
# Commands a client may always run, logged in or not (flagged `no-auth`): they give nothing.
ALWAYS = frozenset({"auth", "hello", "quit", "reset"})
# What an intruder holding one application's password would try first: list, kill or freeze
# the other clients, wipe the server, read or change its configuration, list every key name,
# or run a script that does any of it.
DANGEROUS: dict[str, tuple[str, ...]] = {
    "CLIENT LIST": ("CLIENT", "LIST"),
    "CLIENT KILL": ("CLIENT", "KILL", "ID", "999999"),
    "CLIENT PAUSE": ("CLIENT", "PAUSE", "10"),
    "FLUSHALL": ("FLUSHALL",),
    "CONFIG GET": ("CONFIG", "GET", "requirepass"),
    "CONFIG SET": ("CONFIG", "SET", "protected-mode", "no"),
    "KEYS *": ("KEYS", "*"),
    "SCAN": ("SCAN", "0"),
    "RANDOMKEY": ("RANDOMKEY",),
    "ACL LIST": ("ACL", "LIST"),
    "EVAL": ("EVAL", "return redis.call('DBSIZE')", "0"),
}


def commands(admin: redis.Redis) -> dict[str, int]:
    """Every command and subcommand the server knows ("client|kill"), with its arity."""
    known: dict[str, int] = {}
    for name, info in admin.command().items():
        subcommands = info.get("subcommands") or []
        if subcommands:
            known |= {_text(sub[0]): int(sub[1]) for sub in subcommands}
        else:
            known[_text(name)] = int(info["arity"])
    return known


def permitted(admin: redis.Redis, user: str) -> set[str]:
    """The commands `user` may run, by the server's own check of each (ACL DRYRUN, run as
    `admin`), with arguments that name a key of its pattern: the key passes, the command decides.
    The commands every client may run (`ALWAYS`) are left out."""
    known = commands(admin)
    with admin.pipeline(transaction=False) as pipe:
        for name, arity in known.items():
            words = name.split("|")
            arguments = max(abs(arity) - len(words), 0)
            pipe.acl_dryrun(user, *words, *[KEY] * arguments)
        answers = pipe.execute(raise_on_error=False)
    unchecked = [
        name for name, answer in zip(known, answers, strict=True) if isinstance(answer, Exception)
    ]
    if unchecked:  # a dry run the server could not do: that command would go uncounted
        raise RuntimeError(f"ACL DRYRUN could not check {', '.join(unchecked)}")
    allowed = {name for name, answer in zip(known, answers, strict=True) if _text(answer) == "OK"}
    return allowed - ALWAYS


def tried(
    client: redis.Redis, attempts: Mapping[str, tuple[str, ...]] = DANGEROUS
) -> dict[str, str]:
    """Each command run for real as the client's user: "ok", or the error it got."""
    outcomes = {}
    for what, words in attempts.items():
        try:
            client.execute_command(*words)  # type: ignore[no-untyped-call]
            outcomes[what] = "ok"
        except Exception as exc:
            outcomes[what] = describe(exc)[:200]
    return outcomes


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
