"""``facelens audit verify WORKSPACE``: check the workspace's tamper-evident audit log.

Exit codes: 0 the hash chain holds (prints how many entries it covers and the head hash to note
down), 1 a broken link (one line naming the first broken entry), 2 not a workspace.
Opening a schema-1 workspace migrates it: its chain starts at the migration entry (stated).
"""
from __future__ import annotations

import argparse
from typing import Any

from facelens.cli import CommandError, UsageError

EXIT_BROKEN = 1


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="check the workspace's audit log (hash chain)")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    v = asub.add_parser("verify", help="report the first broken link of the audit log's hash chain")
    v.add_argument("workspace", help="workspace folder")
    v.set_defaults(func=cmd_verify)


def cmd_verify(args: argparse.Namespace) -> int:
    from facelens.core.workspace import Workspace, WorkspaceError

    try:
        with Workspace.open(args.workspace, create=False) as ws:
            check = ws.verify_audit()
    except WorkspaceError as exc:
        raise UsageError(str(exc)) from None
    if not check.ok:
        raise CommandError(f"audit log broken at entry #{check.first_broken}: {check.reason} "
                           f"({check.entries} entries)", EXIT_BROKEN)
    if check.chain_start is None:
        print("audit log intact: no entries yet")
        return 0
    older = (f"; the {check.unchained} entries before it (made before the chain existed) are covered "
             "as one block by the migration entry") if check.unchained else ""
    print(f"audit log intact: {check.entries} entries, chained from entry #{check.chain_start}{older}; "
          f"head {check.head}")
    return 0
