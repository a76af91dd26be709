"""A tiny Gradio Blocks app for the lab, with or without `auth=`.

    python -m aicensus.lab.real.gradio_app --host 127.0.0.16 --port 17860 [--auth USER:PASS]

The app has one text box and one button whose function only upper-cases text; nothing
in it reaches the network. Analytics and the version check are off.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--auth", default=None, help="USER:PASS for launch(auth=...)")
    args = p.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        print(f"gradio_app: refusing {args.host}: loopback only", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gradio as gr

    def shout(text: str) -> str:
        return text.upper()

    with gr.Blocks(title="aicensus lab demo") as demo:
        box = gr.Textbox(label="Text")
        out = gr.Textbox(label="Upper-cased")
        gr.Button("Shout").click(shout, inputs=box, outputs=out, api_name="shout")
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        auth=auth,
        share=False,
        inbrowser=False,
        show_error=False,
        quiet=True,
        prevent_thread_lock=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
