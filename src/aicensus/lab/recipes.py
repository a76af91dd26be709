"""A real product's lab launch, from its signature's `lab.real` recipe: fill in the
{placeholders} of its command, environment and files (aicensus.fingerprint.schema.LabLaunch).

    argv, env = render_launch(launch, values)     # values: Values(...) for one service

Placeholders: {python} this interpreter, {bin} its bin directory (both the launch's own venv's
when it has one: `install`), {lab_python} always the lab's interpreter (for the lab's own
wrappers, e.g. aicensus.lab.real.netns around a venv's server), {address} the service's
loopback address, {port} the private port the server binds (the recording relay holds the
public one), {public_port}, {data} the service's data directory, {api_key}, {user},
{password} the lab's credentials, {model} the lab GGUF and {model_name} its file name,
{model_file} the GGUF's published file name, {llama_server} the llama-server binary, and
{url:SERVICE} another lab service's URL. Model and binary are looked up only when used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aicensus.errors import LabError
from aicensus.fingerprint.schema import PLACEHOLDER, LabLaunch

LAB_USER = "aicensus"
LAB_PASSWORD = "aicensus-lab-password"


@dataclass
class Values:
    """What the placeholders of one service stand for; `lazy` ones are computed on first use."""

    fixed: dict[str, str]
    urls: Mapping[str, str] = field(default_factory=dict)  # service name → URL
    lazy: Mapping[str, Callable[[], str]] = field(default_factory=dict)

    def get(self, name: str, arg: str | None) -> str:
        if name == "url":
            if arg is None or arg not in self.urls:
                raise LabError(f"{{url:{arg}}}: no lab service {arg!r} in this layout")
            return self.urls[arg]
        if name not in self.fixed and name in self.lazy:
            self.fixed[name] = self.lazy[name]()
        if name not in self.fixed:
            raise LabError(f"placeholder {{{name}}} has no value here")
        return self.fixed[name]


def fill(text: str, values: Values) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(2)), text)


def base_values(
    *, address: str, port: int, public_port: int, data: Path, api_key: str
) -> dict[str, str]:
    return {
        "python": sys.executable,
        "bin": str(Path(sys.executable).parent),
        "lab_python": sys.executable,
        "address": address,
        "port": str(port),
        "public_port": str(public_port),
        "data": str(data),
        "api_key": api_key,
        "user": LAB_USER,
        "password": LAB_PASSWORD,
    }


def render_launch(
    launch: LabLaunch, values: Values, data: Path
) -> tuple[list[str], dict[str, str]]:
    """The server's argv and extra environment; its `files` are written into `data`."""
    for name, template in launch.files.items():
        (data / name).write_text(fill(template, values))
    argv = [fill(arg, values) for arg in launch.command]
    env = {key: fill(value, values) for key, value in launch.env.items()}
    return argv, env


def credential(launch: LabLaunch, values: Values) -> str | None:
    """What `lab status` shows as the key of a key variant (None for an open one)."""
    if launch.variant != "key":
        return None
    return fill(launch.credential or "{api_key}", values)
