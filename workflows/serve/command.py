"""Serve the detector over HTTP (POST /analyze, POST /anonymize with Presidio's operators, GET
/health), on 127.0.0.1 unless told otherwise and with an API key on any other address.

``pii-factory serve [RECIPE [key=value ...]] [--host 127.0.0.1] [--port 8000]``: ``POST /analyze``
``{"text"}`` or ``{"texts": [...]}`` -> ``{"entities"}``, ``POST /anonymize`` ``{"text",
"operators"?}`` -> ``{"text", "items", "entities"}``. Off loopback it needs an API key from
``--api-key-file`` or ``PII_FACTORY_API_KEY`` (never the command line, where other users of the
machine can read it). TLS belongs to a reverse proxy in front (docs/detector.md).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from pathlib import Path

from eval.detection.arguments import add_arguments, options
from eval.detection.detector import Detector
from eval.detection.inference_args import load_recipe
from piifactory.command_line import command_parser
from piifactory.errors import PiiFactoryError, UsageError
from workflows.serve.app import MAX_BODY_BYTES, create_app

KEY_VARIABLE = "PII_FACTORY_API_KEY"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def api_key(path: Path | None) -> str | None:
    """The key from the file (its first line) or the environment; None when neither gives one."""
    if path is not None:
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise UsageError(f"{path}: the API key file is empty")
        return key
    return os.environ.get(KEY_VARIABLE) or None


def main(argv: list[str] | None = None) -> int:
    parser = command_parser(
        __name__,
        __doc__,
        "llamafactory_configs/qwen4b_lora.yaml adapter_name_or_path=saves/qwen3-4b/pii --rules both --port 8000",
    )
    parser.allow_abbrev = False
    parser.add_argument("recipe", nargs="?", help="training recipe YAML; none with --rules-only")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. adapter_name_or_path=outputs/x")
    parser.add_argument("--rules-only", action="store_true", help="the recognizers alone: no model")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--api-key-file", type=Path, help=f"file holding the API key (or set {KEY_VARIABLE}); needed off loopback"
    )
    parser.add_argument(
        "--max-body", type=int, default=MAX_BODY_BYTES, help="largest request body in bytes (413 above)"
    )
    add_arguments(parser, second_look=False)
    ns = parser.parse_args(argv)
    try:
        if ns.rules_only == (ns.recipe is not None):
            raise UsageError("give a RECIPE, or --rules-only (not both)")
        key = api_key(ns.api_key_file)
        if key is None and not is_loopback(ns.host):
            raise UsageError(
                f"--host {ns.host} is reachable from other machines: give an API key with --api-key-file or "
                f"{KEY_VARIABLE} (and put a TLS reverse proxy in front: docs/detector.md)"
            )
        if ns.rules_only:
            detector = Detector.rules_only()
        else:
            detector = Detector.from_recipe(load_recipe(ns.recipe, ns.overrides), options(ns))
            detector.prompts([""]), detector.generate  # the prompt row and the model load now, not on a request
        app = create_app(detector, api_key=key, max_body=ns.max_body)
    except (PiiFactoryError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(
        f"serving {'rules only' if ns.rules_only else ns.recipe} on http://{ns.host}:{ns.port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=ns.host, port=ns.port, log_level="info")
    return 0
