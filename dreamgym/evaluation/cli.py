"""``dreamgym gate``: the evaluation's subcommand (the quality gate over folders of videos)."""

from __future__ import annotations

from engine.cli import InputError, add_command

GATE_EXAMPLE = """examples:
  dreamgym gate new/ golden/ --min-psnr 30 --min-ssim 0.9               # folders of .mp4, by name
  dreamgym gate out/ golden/ --min-psnr 30 --report gate.json           # a predict-many sink
  dreamgym gate new/ golden/ --max-lpips 0.1 --lpips-net vgg            # needs vgg16-397923af.pth
                                                    # in $DREAMGYM_LPIPS_DIR or torch hub's cache
exit codes: 0 every video passed, 1 a video failed a threshold, 2 bad input
"""


def cmd_gate(args) -> int:
    from engine.metrics import LPIPS, QualityThresholds

    from .gate import GateInputError, pair_videos, run_gate

    try:
        thresholds = QualityThresholds(args.min_psnr, args.min_ssim, args.max_lpips)
    except ValueError as e:  # name the flag, not the parameter
        flags = {"min_psnr": "--min-psnr", "min_ssim": "--min-ssim", "max_lpips": "--max-lpips"}
        message = next((str(e).replace(k, v, 1) for k, v in flags.items() if str(e).startswith(k)), str(e))
        raise InputError(message) from None
    if args.report:
        from engine.files import check_output_file

        try:
            check_output_file(args.report, "--report")
        except ValueError as e:
            raise InputError(str(e)) from None
    try:
        pair_videos(args.candidates, args.references)  # bad input fails here, before any model loads
        lpips = None
        if args.max_lpips is not None or args.lpips:
            backbone = args.lpips_weights
            lpips = LPIPS(args.lpips_net, backbone=backbone)
        report = run_gate(args.candidates, args.references, thresholds, lpips)
    except (GateInputError, FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    print(report.table())
    if args.report:
        print(f"report: {report.write_json(args.report)}")
    return 0 if report.ok else 1


def register(sub) -> None:
    """Add ``gate`` to the ``dreamgym`` subparsers."""
    g = add_command(
        sub,
        "gate",
        cmd_gate,
        help="quality gate: PSNR / SSIM / LPIPS of candidate videos against references (exit 1 on a failure)",
        description="Compare every video of CANDIDATES with the video of the same name in REFERENCES (folders "
        "of .mp4, or predict-many sinks with metadata.parquet, matched by row_id) over the predicted frames "
        "(frame 0, the start frame, is left out), print a per-video table and fail when a video's mean "
        "breaks a threshold. SSIM: 11-tap Gaussian window, sigma 1.5. LPIPS v0.1 needs the backbone's "
        "torchvision weights as a local file (nothing is downloaded).",
        example=GATE_EXAMPLE,
    )
    g.add_argument("candidates", metavar="CANDIDATES")
    g.add_argument("references", metavar="REFERENCES")
    g.add_argument("--min-psnr", type=float, default=None, help="fail a video whose mean PSNR (dB) is below")
    g.add_argument("--min-ssim", type=float, default=None, help="fail a video whose mean SSIM is below")
    g.add_argument("--max-lpips", type=float, default=None, help="fail a video whose mean LPIPS is above")
    g.add_argument("--lpips", action="store_true", help="report LPIPS without a threshold on it")
    g.add_argument("--lpips-net", choices=["vgg", "alex"], default="vgg", help="LPIPS backbone (default vgg)")
    g.add_argument(
        "--lpips-weights",
        default=None,
        help="the backbone's torchvision checkpoint (file or folder); 'random' for random weights (tests only)",
    )
    g.add_argument("--report", default=None, metavar="JSON", help="also write the results as JSON")
