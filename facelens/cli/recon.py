"""``facelens recon ...``: the morphable face model (build it, draw its expression components).

The group is open for more sub-commands. Either list a module in :data:`RECON_MODULES` (it
must define ``register_recon(subparsers)``), or call :func:`register_recon_command` with a
function ``fn(subparsers)`` before the parser is built. Each sub-command sets ``func`` as usual.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_dir, check_output_file

#: Modules under ``facelens.cli`` that add ``recon`` sub-commands (``register_recon(subparsers)``).
RECON_MODULES: list[str] = ["recon_asmv2l"]  # recon train / eval (AsmV2L)
_HOOKS: list[Callable[[argparse._SubParsersAction], None]] = []


def register_recon_command(fn: Callable[[argparse._SubParsersAction], None]) -> None:
    """Add ``fn(subparsers)`` to the sub-commands of ``facelens recon`` (call before the parser is built)."""
    if fn not in _HOOKS:
        _HOOKS.append(fn)


def register(subparsers: argparse._SubParsersAction) -> None:
    rp = subparsers.add_parser("recon", help="morphable face model: build-model, contact-sheet, ...")
    sub = rp.add_subparsers(dest="recon_command", metavar="RECON_COMMAND")
    rp.set_defaults(func=lambda args: rp.print_help() or 0)

    bm = sub.add_parser("build-model", help="learn the morphable model from analysed stills and videos")
    bm.add_argument("--dataset", type=Path, required=True,
                    help="AffectNet-like folder (labels.csv) whose images were analysed into --stills")
    bm.add_argument("--stills", type=Path, required=True,
                    help="`facelens batch` output of the dataset's images (session id = image path, '/' -> '__')")
    bm.add_argument("--videos", type=Path, nargs="*", default=[],
                    help="results files or batch output folders of videos (one person each)")
    bm.add_argument("--out", type=Path, required=True, help="folder for facelens_morphable.npz and build.json")
    bm.add_argument("--k-id", type=int, default=None, help="identity components (default: the shipped model's)")
    bm.add_argument("--k-exp", type=int, default=None, help="expression components (default: the shipped model's)")
    bm.set_defaults(func=_build)

    cs = sub.add_parser("contact-sheet", help="draw the expression components of a model (PNG)")
    cs.add_argument("--model", type=Path, default=None, help="model .npz (default: the shipped one)")
    cs.add_argument("-o", "--output", type=Path, required=True)
    cs.add_argument("--components", type=int, default=12)
    cs.set_defaults(func=_sheet)

    mf = sub.add_parser("manifest", help="a `facelens batch` manifest of an AffectNet-like folder's images")
    mf.add_argument("dataset", type=Path, help="folder with labels.csv (or images/ + annotations/)")
    mf.add_argument("-o", "--output", type=Path, required=True, help="manifest CSV to write")
    mf.set_defaults(func=_manifest)

    for name in RECON_MODULES:
        importlib.import_module(f"facelens.cli.{name}").register_recon(sub)
    for fn in _HOOKS:
        fn(sub)


def _build(args: argparse.Namespace) -> int:
    from facelens.core.affect.datasets import DatasetError, read_dataset
    from facelens.core.face.morphable.build import build_model
    from facelens.core.results import ResultsError
    from facelens.core.training.morphable_data import load_build_data, still_session_id

    check_output_dir(args.out)
    for k in (args.k_id, args.k_exp):
        if k is not None and k < 1:
            raise UsageError("--k-id and --k-exp must be >= 1")
    try:
        labels = {still_session_id(s.image, args.dataset): s.label for s in read_dataset(args.dataset)}
        data = load_build_data(labels, args.stills, list(args.videos), dataset_name=args.dataset.name)
    except (DatasetError, ResultsError) as exc:
        raise UsageError(str(exc)) from None
    try:
        from facelens.core.face.morphable.build import K_EXP, K_ID

        model = build_model(data, k_id=args.k_id or K_ID, k_exp=args.k_exp or K_EXP)
    except ValueError as exc:
        raise CommandError(str(exc), code=2) from None
    args.out.mkdir(parents=True, exist_ok=True)
    path = model.save(args.out / "facelens_morphable.npz")
    from facelens.core.common.atomic import atomic_write_text

    atomic_write_text(args.out / "build.json", json.dumps(dict(model.meta, noise_sd=model.noise_sd), indent=1))
    m = model.meta
    print(f"wrote {path}: {model.n_identity} identity components "
          f"({100 * sum(m['identity_variance_explained']):.1f} % of {m['n_people_identity']} people's variance), "
          f"{model.n_expression} expression components "
          f"({100 * sum(m['expression_variance_explained']):.1f} % of {m['n_expression_samples']} deviations); "
          f"fit residual mean {m['build_residual_iod']['mean']:.4f} IOD")
    return 0


def _sheet(args: argparse.Namespace) -> int:
    from facelens.core.face.morphable.model import MorphableError, MorphableModel, load_default
    from facelens.render.morphable_sheet import contact_sheet

    check_output_file(args.output, "-o")
    try:
        model = MorphableModel.load(args.model) if args.model else load_default()
    except MorphableError as exc:
        raise UsageError(str(exc)) from None
    contact_sheet(model, args.output, n=max(1, args.components))
    print(f"wrote {args.output}")
    return 0


def _manifest(args: argparse.Namespace) -> int:
    """Session id of each image = its path in the dataset with '/' -> '__' (what build-model and --results read)."""
    import csv
    import io

    from facelens.core.affect.datasets import DatasetError, read_dataset
    from facelens.core.common.atomic import atomic_write_text
    from facelens.core.training.morphable_data import still_session_id

    check_output_file(args.output, "-o")
    try:
        samples = read_dataset(args.dataset)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["video", "session_id", "subject_id"])
    base = args.output.resolve().parent
    for s in samples:
        sid = still_session_id(s.image, args.dataset)
        w.writerow([os.path.relpath(s.image.resolve(), base), sid, sid])
    atomic_write_text(args.output, buf.getvalue())
    print(f"wrote {args.output}: {len(samples)} images")
    return 0
