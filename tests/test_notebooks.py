"""The analysts' notebooks: thin, parameterised, executable, and opened by JupyterLab as notebooks.

* every notebook in ``notebooks/`` (jupytext percent ``.py``) is executed with papermill on the
  bundled sample data, with the working directory ``notebooks/`` (so its relative default paths are
  the ones exercised) and its outputs sent to a temporary folder;
* a real JupyterLab server is started headless on localhost and serves each ``.py`` file as a
  notebook through its contents API (jupytext's contents manager);
* the notebooks define no function or class, have exactly one ``parameters`` cell and no outputs.

The notebooks run once per session (:func:`executed`), in parallel papermill subprocesses; the
pipeline run that notebooks 02–05 read is made once, from a subset of the sample waves (two SIPAS
and two PAPI waves, so that trends exist; the notebooks' default waves included). Kernel: the
project's venv (:func:`venv_kernel`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sipas_analysis.paths import REPO_ROOT, WAVES_DIR

pytestmark = pytest.mark.slow

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
EXPECTED_NOTEBOOKS = [
    "01_tai_va_kiem_tra_du_lieu.py",
    "02_ket_qua_sipas.py",
    "03_ket_qua_papi.py",
    "04_xu_huong_va_diem_yeu.py",
    "05_xem_truoc_ban_tin.py",
]
#: Sample waves of the session run read by notebooks 02–05 (their default waves included).
RUN_WAVES = ["sipas-2024", "sipas-2025", "papi-2023", "papi-2024"]
#: Notebooks that read the run's output folder (parameter ``out_dir``) instead of writing to it.
READS_RUN = {
    "02_ket_qua_sipas.py",
    "03_ket_qua_papi.py",
    "04_xu_huong_va_diem_yeu.py",
    "05_xem_truoc_ban_tin.py",
}
KERNEL = "python3"
#: Further executions with other parameters: a second area (by code) and wave without a commune,
#: an area outside the PAPI sample (a sentence instead of an empty table). The defaults of the
#: notebooks cover the other area (by name), a commune and the comparison of two waves through
#: the crosswalk (2024 -> 2025).
VARIANTS = {
    "02_ket_qua_sipas.py@802-2024": {
        "area": "802",
        "commune": "",
        "wave_config": "../waves/sipas-2024.yaml",
        "element_code": "cong_chuc",
    },
    "03_ket_qua_papi.py@thanh-hoa": {"area": "Thạnh Hóa"},
}
#: Text no output may show (raw objects, empty frames).
RAW_OUTPUT = ("Empty DataFrame", "Unit(code=", "DataNotes(", "Headline(", "WeakPoint(")


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def test_expected_notebooks_exist():
    assert [p.name for p in _notebooks()] == EXPECTED_NOTEBOOKS


# ---------------------------------------------------------------------------------------------
# Fixtures: the venv's kernel, one pipeline run
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def venv_kernel():
    """Make the ``python3`` kernel the one of this interpreter (the project's venv).

    The kernelspec is installed into ``sys.prefix`` when it is not there yet (fresh machine), and
    ``JUPYTER_PATH`` puts that folder first so that a ``python3`` kernelspec in the user's home
    (pointing to another Python) cannot shadow it. Kernels inherit the environment.
    """
    data_dir = Path(sys.prefix) / "share" / "jupyter"
    spec = data_dir / "kernels" / KERNEL / "kernel.json"
    if not spec.exists():
        subprocess.run(
            [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
            check=True,
            capture_output=True,
        )
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([str(data_dir), *([old] if old else [])])
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().get_kernel_spec(KERNEL)
    argv0 = found.argv[0]
    assert argv0 in {"python", "python3"} or Path(argv0).resolve() == Path(sys.executable).resolve()
    yield KERNEL
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


def _run_pipeline(out: Path) -> None:
    """One pipeline run on a subset of the sample waves, without the PDF briefs."""
    from sipas_analysis import pipeline

    pipeline.run_waves(
        [WAVES_DIR / f"{name}.yaml" for name in RUN_WAVES],
        out,
        briefs=False,
        progress=False,
    )


def _start_papermill(
    source: Path, work: Path, out_dir: Path, params: dict | None = None, tag: str = ""
) -> dict:
    """Convert a percent notebook to .ipynb (jupytext) and start papermill on it in a subprocess.

    ``params`` are further parameters (``-r name value``: passed as text); ``tag`` names the
    run's files."""
    import jupytext
    import nbformat
    import papermill as pm

    stem = source.stem + (f"-{tag}" if tag else "")
    input_path = work / f"{stem}.ipynb"
    output_path = work / f"{stem}.out.ipynb"
    nbformat.write(jupytext.read(source), input_path)
    declared = set(pm.inspect_notebook(str(input_path)))
    log_path = work / f"{stem}.log"
    extra = [a for k, v in (params or {}).items() for a in ("-r", k, str(v))]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "papermill",
                str(input_path),
                str(output_path),
                "-p",
                "out_dir",
                str(out_dir),
                *extra,
                "--kernel",
                KERNEL,
                "--cwd",
                str(NOTEBOOK_DIR),
                "--execution-timeout",
                "300",
                "--start-timeout",
                "300",
                "--no-progress-bar",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    time.sleep(2)  # kernels started at the same instant can pick the same free ports
    return {
        "proc": proc,
        "log": log_path,
        "output": output_path,
        "out_dir": out_dir,
        "parameters": declared,
    }


@pytest.fixture(scope="session")
def executed(tmp_path_factory, venv_kernel) -> dict[str, dict]:
    """Execute every notebook once with papermill, in parallel subprocesses.

    Notebook 01 (loading and validation) starts at once and writes into its own temporary folder;
    the others start as soon as the session's pipeline run (their ``out_dir``) is written.
    """
    work = tmp_path_factory.mktemp("notebooks")
    run_out = work / "run" / "reports"
    runs: dict[str, dict] = {}
    try:
        for name in EXPECTED_NOTEBOOKS:
            if name not in READS_RUN and (NOTEBOOK_DIR / name).exists():
                runs[name] = _start_papermill(NOTEBOOK_DIR / name, work, work / "outputs")
        try:
            _run_pipeline(run_out)
        except Exception as exc:  # reported by the tests of the notebooks that need the run
            for name in READS_RUN:
                runs[name] = {"pipeline_error": f"{type(exc).__name__}: {exc}"}
        else:
            for name in EXPECTED_NOTEBOOKS:
                if name in READS_RUN and (NOTEBOOK_DIR / name).exists():
                    # the brief preview writes into a temporary folder, not notebooks/outputs
                    params = {"preview_dir": work / "preview"} if name.startswith("05") else {}
                    runs[name] = _start_papermill(NOTEBOOK_DIR / name, work, run_out, params)
            for key, params in VARIANTS.items():
                name, tag = key.split("@")
                runs[key] = _start_papermill(NOTEBOOK_DIR / name, work, run_out, params, tag)
        for run in runs.values():
            if "proc" in run:
                run["returncode"] = run["proc"].wait(timeout=600)
    finally:
        for run in runs.values():
            if "proc" in run and run["proc"].poll() is None:
                run["proc"].kill()
                run["proc"].wait(timeout=30)
    return runs


# ---------------------------------------------------------------------------------------------
# 1. Every notebook runs on the sample data
# ---------------------------------------------------------------------------------------------


def _outputs_text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", "") if isinstance(output.get("text"), str) else "")
        for kind in ("text/plain", "text/html", "text/markdown"):
            parts.append(str(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


def _cell_with(result, needle: str):
    return next(c for c in result.cells if c.cell_type == "code" and needle in c.source)


def _has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


@pytest.mark.parametrize("name", [*EXPECTED_NOTEBOOKS, *VARIANTS])
def test_notebook_executes(name, executed):
    import nbformat

    if name not in executed:
        pytest.fail(f"{name}: notebook missing")
    run = executed[name]
    if "pipeline_error" in run:
        pytest.fail(f"{name}: the pipeline run it reads failed: {run['pipeline_error']}")
    log = run["log"].read_text(errors="replace")[-3000:]
    assert "out_dir" in run["parameters"], f"{name}: the parameters cell has no out_dir"
    if not run["output"].exists():
        pytest.fail(f"{name}: papermill wrote no output notebook:\n{log}", pytrace=False)
    result = nbformat.read(run["output"], as_version=4)
    code_cells = [c for c in result.cells if c.cell_type == "code"]
    for cell in code_cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                source = "\n".join(cell.source.splitlines()[:4])
                traceback = "\n".join(output.get("traceback", [])[-6:])
                traceback = re.sub(r"\x1b\[[0-9;]*m", "", traceback)  # IPython's colours
                pytest.fail(
                    f"{name}: cell In [{cell.get('execution_count')}] failed with "
                    f"{output['ename']}: {output['evalue']}\n--- cell:\n{source}\n"
                    f"--- traceback:\n{traceback}",
                    pytrace=False,
                )
    assert run["returncode"] == 0, f"{name}: papermill failed:\n{log}"
    assert all(c.get("execution_count") for c in code_cells), f"{name}: a cell did not run"
    images = [o for c in code_cells for o in c.outputs if "image/png" in o.get("data", {})]
    text = "\n".join(_outputs_text(c) for c in code_cells)
    for raw in RAW_OUTPUT:
        assert raw not in text, f"{name}: an output shows {raw!r}"
    if name.startswith("02_"):
        # the element -> criteria drill-down chart, Vietnamese tables with names
        assert _has_image(_cell_with(result, "explore.drilldown_chart(estimates, area_unit")), name
        assert "Tên đơn vị" in text and "Ghi chú độ tin cậy" in text
        assert re.search(r">\d{2},\d<", text), f"{name}: no number with a decimal comma"
        commune = _cell_with(result, "commune_rows = ")
        if name == "02_ket_qua_sipas.py":
            assert _has_image(commune), "no drill-down chart for the chosen commune"
            assert "Xã Tân Tây" in _outputs_text(commune)
        else:
            assert "Chưa chọn xã/phường" in _outputs_text(commune)
            assert "Huyện Đức Hòa" in text and "2024" in text
    if name == "03_ket_qua_papi.py@thanh-hoa":
        assert "không có trong mẫu PAPI" in text
    if name == "04_xu_huong_va_diem_yeu.py":
        assert _has_image(_cell_with(result, "trend_small_multiples"))
        compared = _outputs_text(_cell_with(result, "explore.compare_waves("))
        assert "2025 (quy đổi)" in compared and "Huyện Thạnh Hóa" in compared
    if name == "01_tai_va_kiem_tra_du_lieu.py":
        assert sorted(p.name for p in run["out_dir"].iterdir()) == [
            "sipas-2024_exclusions.csv",
            "sipas-2024_problems.csv",
            "sipas-2024_problems.xlsx",
        ]
    else:
        assert images, f"{name}: no figure was displayed"


# ---------------------------------------------------------------------------------------------
# 2. JupyterLab opens the .py files as notebooks
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - localhost only
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def jupyter_server(tmp_path):
    """A headless JupyterLab server on localhost started by ``make lab`` (root folder ``<repo>``);
    always shut down."""
    port = _free_port()
    token = secrets.token_hex(24)
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    # Keep the user's own Jupyter config, runtime files and workspaces out of the test.
    env.update(
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    log = (tmp_path / "jupyter.log").open("wb")
    # The README's command: `make lab` (adds --allow-root only when run as root, as here in CI).
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    proc = subprocess.Popen(
        ["make", "-s", "-C", str(REPO_ROOT), "lab", f"VENV={sys.prefix}", f"LAB_ARGS={lab_args}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # make and the server it starts are stopped together
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"jupyter lab exited with {proc.returncode}:\n"
                    + (tmp_path / "jupyter.log").read_text(errors="replace")[-3000:]
                )
            try:
                status, _ = _get(f"{base}/api/status", token, timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("jupyter lab did not answer on localhost within 90 s")
            time.sleep(0.5)
        yield base, token
    finally:
        if proc.poll() is None:
            try:
                req = urllib.request.Request(
                    f"{base}/api/shutdown",
                    method="POST",
                    headers={"Authorization": f"token {token}"},
                )
                urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - localhost only
            except OSError:
                pass
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        log.close()


def test_jupyterlab_serves_py_notebooks(jupyter_server):
    base, token = jupyter_server
    status, body = _get(f"{base}/api/contents/notebooks?content=1", token)
    assert status == 200
    listing = {item["name"]: item["type"] for item in json.loads(body)["content"]}
    for name in EXPECTED_NOTEBOOKS:
        # jupytext's contents manager lists and serves the .py files as notebooks
        assert listing.get(name) == "notebook", (name, listing.get(name))
        status, body = _get(f"{base}/api/contents/notebooks/{name}?content=1", token, timeout=30)
        assert status == 200, (name, status, body[:300])
        model = json.loads(body)
        assert model["type"] == "notebook", (name, model["type"])
        assert model["format"] == "json"
        content = model["content"]
        assert content["metadata"]["kernelspec"]["name"] == KERNEL
        cells = content["cells"]
        assert cells[0]["cell_type"] == "markdown"
        tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1 and tagged[0]["cell_type"] == "code", name
        assert "out_dir" in "".join(tagged[0]["source"])
        assert sum(c["cell_type"] == "code" for c in cells) >= 3, name
        assert all(not c.get("outputs") for c in cells if c["cell_type"] == "code"), name


# ---------------------------------------------------------------------------------------------
# 3. Thin notebooks: no definitions, one parameters cell, no outputs, no machine paths
# ---------------------------------------------------------------------------------------------

_DEFINITION = re.compile(r"^\s*(async\s+def|def|class)\s", re.MULTILINE)
# Absolute folders of a machine (spelled in parts so that this file itself holds none).
_MACHINE_DIRS = ("wo" + "rk", "ro" + "ot", "ho" + "me", "tmp")
_MACHINE_PATH = re.compile("(" + "|".join(f"/{d}/" for d in _MACHINE_DIRS) + r"|[A-Za-z]:\\)")


@pytest.mark.parametrize("name", EXPECTED_NOTEBOOKS)
def test_notebook_is_thin(name):
    import jupytext

    path = NOTEBOOK_DIR / name
    text = path.read_text(encoding="utf-8")
    assert not _DEFINITION.search(text), (
        f"{name} defines a function or class: move it to the package"
    )
    assert "lambda" not in text, f"{name} defines a function (lambda): move it to the package"
    assert not _MACHINE_PATH.search(text), f"{name} contains a machine path"

    notebook = jupytext.read(path)
    meta = notebook.metadata
    assert meta["jupytext"]["text_representation"]["format_name"] == "percent"
    assert meta["jupytext"]["formats"] == "py:percent"
    assert meta["kernelspec"]["name"] == KERNEL
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} parameters cells"
    first_code = next(c for c in notebook.cells if c.cell_type == "code")
    assert first_code is tagged[0], f"{name}: the parameters cell must be the first code cell"
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    assert "import sipas_analysis" in text or "from sipas_analysis" in text
    markdown = [c for c in notebook.cells if c.cell_type == "markdown"]
    assert markdown and markdown[0].source.startswith("# "), f"{name}: no title cell"
    # Vietnamese explanations (letters with diacritics) in the markdown cells
    assert re.search(
        r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệịỉĩọỏốồổỗộớờởỡợụủứừửữựỳỷỹỵ]",
        " ".join(c.source for c in markdown).lower(),
    )


def _lab_command_as(tmp_path, prefix: list[str]) -> str:
    """The command line ``make lab`` runs, with a stand-in ``jupyter-lab`` that prints its args."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    stub = venv / "bin" / "jupyter-lab"
    stub.write_text('#!/bin/sh\necho "jupyter-lab $*"\n')
    stub.chmod(0o755)
    for p in (tmp_path, venv, venv / "bin"):
        p.chmod(0o755)
    out = subprocess.run(
        [*prefix, "make", "-s", "-C", str(REPO_ROOT), "lab", f"VENV={venv}", "LAB_ARGS=--x=1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_make_lab_adds_allow_root_only_for_root(tmp_path):
    """`make lab` passes --allow-root when run as root and not as a normal user (the server itself
    is started as root by :func:`jupyter_server`)."""
    import shutil

    if os.geteuid() != 0:
        assert "--allow-root" not in _lab_command_as(tmp_path, [])
        pytest.skip("not root: the root case is not reachable here")
    as_root = _lab_command_as(tmp_path, [])
    assert as_root.startswith("jupyter-lab --ServerApp.root_dir=") and "--allow-root" in as_root
    assert as_root.endswith("--x=1")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv missing: cannot run make as a normal user")
    import tempfile

    # pytest's own temporary folders are private to root: use one a normal user can enter
    with tempfile.TemporaryDirectory() as shared:
        as_user = _lab_command_as(
            Path(shared), [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        )
    assert as_user.startswith("jupyter-lab ") and "--allow-root" not in as_user
