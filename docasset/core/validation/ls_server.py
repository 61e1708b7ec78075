"""Running a Label Studio server on this machine, and its accounts (for ``docasset labelstudio``
and the integration tests).

Label Studio lives in its own virtualenv (``.venv-labelstudio/``, made by ``run.sh``; its own
SDK needs numpy 2). The server is started detached (its own session), bound to localhost,
with every phone-home off (version check, Sentry, analytics) and local-files serving rooted at
docasset's home, and stopped by pid. A busy port is refused up front: Label Studio would
silently move to the next one. A fresh data directory takes Label Studio 30-50 s to migrate;
a copy of a migrated one (``prepare_data_dir``) starts in a few seconds.

Accounts go through Label Studio's own web flows (``httpx``): log in, create a Personal Access
Token (a JWT refresh token; Label Studio shows it only at creation), the organization's invite
link, signing up with it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from docasset.errors import LabelStudioError

REPO = Path(__file__).resolve().parents[3]
LS_BIN_ENV = "DOCASSET_LABEL_STUDIO_BIN"


def default_bin() -> Path:
    """The ``label-studio`` executable: ``$DOCASSET_LABEL_STUDIO_BIN`` or the repository's
    ``.venv-labelstudio/``."""
    return Path(os.environ.get(LS_BIN_ENV) or REPO / ".venv-labelstudio" / "bin" / "label-studio")


def server_env(data_dir: Path, document_root: Path) -> dict[str, str]:
    """The environment of a local Label Studio: its data directory, local-files serving
    rooted at ``document_root``, and no network calls of its own."""
    return {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LOCAL_FILES_SERVING_ENABLED": "true",
        "LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
        "LATEST_VERSION_CHECK": "false",  # else it asks pypi.org at every start
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
    }


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port``."""
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(
    exe: Path,
    data_dir: Path,
    document_root: Path,
    host: str,
    port: int,
    admin_email: str,
    admin_password: str,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``label-studio start``. The admin account goes in
    the environment (``LABEL_STUDIO_USERNAME``/``_PASSWORD``, which Label Studio reads when
    no ``--username``/``--password`` is given): a command line is readable by every local
    user (``ps``), a process's environment only by its owner."""
    cmd = [str(exe), "start", "--no-browser", "--internal-host", host, "--port", str(port)]
    env = {
        **server_env(data_dir, document_root),
        "LABEL_STUDIO_USERNAME": admin_email,
        "LABEL_STUDIO_PASSWORD": admin_password,
    }
    return cmd, env


@dataclass(frozen=True)
class Server:
    """A running Label Studio: its process id, URL and log file."""

    pid: int
    url: str
    log: Path


def _log_tail(log: Path, n: int = 15) -> str:
    lines = log.read_text("utf-8", errors="replace").splitlines() if log.is_file() else []
    return "\n".join(lines[-n:])


def start(
    data_dir: Path,
    document_root: Path,
    port: int,
    admin_email: str,
    admin_password: str,
    log: Path,
    ls_bin: Path | None = None,
    host: str = "127.0.0.1",
    timeout: float = 180.0,
) -> Server:
    """Start Label Studio detached and wait until it answers ``/health``; the first start on
    a data directory creates the admin account."""
    exe = ls_bin or default_bin()
    if not exe.is_file():
        raise LabelStudioError(
            f"Label Studio is not installed at {exe}: run ./run.sh labelstudio (or ./run.sh "
            f"test), which installs it into .venv-labelstudio/, or set {LS_BIN_ENV}"
        )
    if not port_is_free(port, host):
        raise LabelStudioError(f"port {port} on {host} is in use: choose another with --port")
    data_dir.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd, env = launch(exe, data_dir, document_root, host, port, admin_email, admin_password)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole, by pid
        )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabelStudioError(
                f"Label Studio exited with code {proc.returncode}; log {log}:\n{_log_tail(log)}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return Server(proc.pid, url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop(proc.pid)
    raise LabelStudioError(f"Label Studio did not answer at {url} in {timeout:.0f} s; log {log}")


def is_running(pid: int) -> bool:
    """Whether a process with this id exists (and is not a zombie of ours)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(pid: int, timeout: float = 20.0) -> None:
    """Stop the server started as ``pid`` (its process group): TERM, then KILL after
    ``timeout`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_running(pid):
                return
            time.sleep(0.1)


def prepare_data_dir(data_dir: Path, template: Path) -> None:
    """Fill ``data_dir`` with a copy of a migrated data directory (database, secret key)."""
    shutil.copytree(template, data_dir, dirs_exist_ok=True)


def build_template(
    template: Path, admin_email: str, admin_password: str, ls_bin: Path | None = None
) -> Path:
    """A migrated data directory with the admin account at ``template`` (built once: Label
    Studio's migrations take 30-50 s); concurrent builders each build, one rename wins."""
    if template.is_dir():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=template.parent, prefix=".ls-template-"))
    try:
        server = start(
            tmp / "data", tmp, free_port(), admin_email, admin_password, tmp / "ls.log", ls_bin
        )
        stop(server.pid)
        try:
            os.rename(tmp / "data", template)
        except OSError:
            if not template.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return template


# --- accounts --------------------------------------------------------------------------------


def login(url: str, email: str, password: str) -> httpx.Client:
    """A browser-like session logged in as ``email`` (CSRF header set for API calls)."""
    client = httpx.Client(base_url=url, timeout=30)
    client.get("/user/login/")
    r = client.post(
        "/user/login/",
        data={
            "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
            "email": email,
            "password": password,
        },
        headers={"Referer": f"{url}/user/login/"},
    )
    if r.status_code != 302:  # the login page again: wrong email or password
        client.close()
        raise LabelStudioError(f"cannot log in to {url} as {email}: wrong email or password")
    client.headers.update({"X-CSRFToken": client.cookies.get("csrftoken") or "", "Referer": url})
    return client


def personal_token(session: httpx.Client) -> str:
    """Create the session user's Personal Access Token (Label Studio shows it only now)."""
    r = session.post("/api/token/", json={})
    if r.status_code == 409:
        raise LabelStudioError(
            "this user already has a Personal Access Token that docasset did not record: revoke "
            "it in Label Studio (Account & Settings -> Personal Access Token) and run again"
        )
    if r.status_code != 201:
        raise LabelStudioError(f"cannot create a Personal Access Token ({r.status_code}): {r.text}")
    return str(r.json()["token"])


def invite_url(session: httpx.Client) -> str:
    """The organization's sign-up link for new operators (absolute)."""
    r = session.get("/api/invite")
    r.raise_for_status()
    return urljoin(str(session.base_url), str(r.json()["invite_url"]))


def sign_up(invite: str, email: str, password: str) -> httpx.Client:
    """Sign up through an invite link, as a new operator does; returns their session."""
    client = httpx.Client(timeout=30)
    client.get(invite)
    r = client.post(
        invite,
        data={
            "csrfmiddlewaretoken": client.cookies.get("csrftoken", ""),
            "email": email,
            "password": password,
        },
        headers={"Referer": invite},
    )
    if r.status_code != 302:
        client.close()
        raise LabelStudioError(f"sign-up of {email} through {invite} failed ({r.status_code})")
    base = invite.split("/user/", 1)[0]
    client.close()
    return login(base, email, password)


def legacy_token(session: httpx.Client) -> str:
    """Enable legacy tokens for the organization (admin session) and return the user's."""
    r = session.post(
        "/api/jwt/settings", json={"api_tokens_enabled": True, "legacy_api_tokens_enabled": True}
    )
    r.raise_for_status()
    r = session.get("/api/current-user/token")
    r.raise_for_status()
    return str(r.json()["token"])
