"""Print a signature case (YAML) from a real server's answers to GETs of the given paths.

    python scripts/capture_case.py http://127.0.0.41:19530 /v1/vector/collections / \\
        --name real-milvus-2.3.5-open --expect milvus --auth open [--header 'Authorization: ...']
        [--keep-json /openapi.json=openapi,info]

Loopback only (the lab's servers). Keeps the headers a signature may look at (Server,
Content-Type, WWW-Authenticate, Location, X-*), and the first --max-body characters of each
body (`--keep-json PATH=KEY,...`: of that path's JSON object, only those top-level keys, still
valid JSON where a cut would break it, e.g. a 34 KB OpenAPI document); paste the output under the signature's `cases:` with a comment saying which product
version answered and when.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

KEEP = ("server", "content-type", "www-authenticate", "location")


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    request = urllib.request.Request(url, headers=headers)
    try:
        with opener.open(request, timeout=20) as resp:
            return resp.status, dict(resp.headers.items()), resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def kept(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in KEEP or k.lower().startswith("x-")}


def clip(body: str, limit: int) -> str:
    """The body's first `limit` characters, ending at a line break when it had to be cut
    (a prefix of the real body, as a scanner with a smaller body cap would read it)."""
    if len(body) <= limit:
        return body
    head = body[:limit]
    return head[: head.rfind("\n") + 1] or head


def keep_json(body: str, keys: list[str]) -> str:
    """Only `keys` of a JSON object body, in the server's order (a body that is no JSON
    object is left as it is)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict):
        return body
    return json.dumps({k: v for k, v in doc.items() if k in keys}, ensure_ascii=False)


def flow(value: object) -> str:
    """A one-line YAML scalar: JSON's double-quoted strings are valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--name", required=True)
    parser.add_argument("--expect", required=True)
    parser.add_argument("--auth", default="")
    parser.add_argument("--version", default="")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' to send")
    parser.add_argument("--max-body", type=int, default=4000)
    parser.add_argument(
        "--keep-json",
        action="append",
        default=[],
        metavar="PATH=KEY,...",
        help="keep only these top-level keys of PATH's JSON object",
    )
    args = parser.parse_args(argv)
    keep: dict[str, list[str]] = {}
    for spec in args.keep_json:
        path, sep, keys = spec.partition("=")
        if not sep or not keys:
            raise SystemExit(f"capture_case: --keep-json wants PATH=KEY,... (got {spec!r})")
        keep[path] = keys.split(",")
    host = urllib.parse.urlsplit(args.base).hostname or ""
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"capture_case: {host} is not a loopback address")
    send = dict(h.split(": ", 1) for h in args.header)
    lines = [f"  - name: {args.name}", f"    expect: {args.expect}"]
    lines += [f"    auth: {args.auth}"] if args.auth else []
    lines += [f"    version: {args.version}"] if args.version else []
    lines.append("    responses:")
    for path in args.paths:
        status, headers, body = fetch(args.base.rstrip("/") + path, send)
        if path in keep:
            body = keep_json(body, keep[path])
        entry = f"{{status: {status}, headers: {{"
        entry += ", ".join(f"{k}: {flow(v)}" for k, v in kept(headers).items())
        entry += f"}}, body: {flow(clip(body, args.max_body))}}}"
        lines.append(f"      {flow(path)}: {entry}")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
