"""The install routes the docs give, run from a copy of the checkout into a fresh virtualenv.

dashfix is not on a package index, so these are the only ways in: README.md's install
commands, `make dist` (an sdist, then a wheel built from it), the composite action's steps
(action.yml, run as the shell scripts GitHub would run) and the pre-commit hook. One fresh
virtualenv serves the whole module; the dependencies come from PyPI or pip's cache.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tarfile
import venv
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from dashfix import __version__
from dashfix.testing.gate import symlink_farm
from tests.docs_examples import fenced_blocks

REPO = Path(__file__).parents[1]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _run(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=cwd, env=None if env is None else dict(env),
                            capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{argv} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass
class FreshVenv:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a shell where this venv comes first on PATH (as after
        `actions/setup-python`, or `source .venv/bin/activate`) and no DASHFIX_* is set."""
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("DASHFIX_", "GITHUB_", "VIRTUAL_ENV", "PYTHON"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.root)
        # Builds use the setuptools installed once in this venv instead of a new isolated
        # build environment each time (the documented commands are unchanged).
        env["PIP_NO_BUILD_ISOLATION"] = "0"
        env.update(extra)
        return env

    def dashfix_version(self, cwd: Path) -> str:
        return _run([str(self.bin / "dashfix"), "--version"], cwd, self.env()).stdout.strip()

    def uninstall(self, cwd: Path) -> None:
        _run([str(self.bin / "python"), "-m", "pip", "uninstall", "--yes", "--quiet", "dashfix"],
             cwd, self.env())
        assert not (self.bin / "dashfix").exists()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files git tracks, as a user's clone has them (no .venv, no build output)."""
    copy = tmp_path_factory.mktemp("checkout") / "dashfix"
    copy.mkdir()
    names = _run(["git", "ls-files", "-z"], REPO).stdout.split("\0")
    for name in filter(None, names):
        source = REPO / name
        if source.is_file():
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode & 0o777)
    return copy


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    root = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    fresh = FreshVenv(root)
    build = [line.strip().strip('",') for line in (REPO / "pyproject.toml").read_text()
             .split("requires = [", 1)[1].split("]", 1)[0].split(",") if line.strip()]
    _run([str(fresh.bin / "python"), "-m", "pip", "install", "--quiet", *build], root,
         fresh.env())
    return fresh


# -- README.md's install commands ------------------------------------------------------

def install_commands() -> list[str]:
    """The command lines of README.md's install blocks (```sh install)."""
    commands = [line.split("#")[0].strip()
                for block in fenced_blocks(REPO / "README.md") if "install" in block.marks
                for line in block.body.splitlines()]
    return [command for command in commands if command]


def test_readme_says_how_to_install_without_a_package_index() -> None:
    commands = install_commands()
    assert "python3 -m pip install ." in commands
    assert "pipx install ." in commands
    assert any(command.startswith("python3 -m pip install 'git+") for command in commands)
    sources = [REPO / "README.md", REPO / "action.yml", REPO / ".pre-commit-hooks.yaml",
               *(REPO / "docs").glob("*.md"), *(REPO / "dashfix").rglob("*.py")]
    text = "\n".join(path.read_text() for path in sources)
    # Not on an index: no doc may tell users to install it by name.
    assert not re.search(r"pip install (--\S+ )*['\"]?dashfix(\[|\b(?!@))", text)


def test_pip_install_from_the_checkout(checkout: Path, fresh: FreshVenv) -> None:
    assert "python3 -m pip install ." in install_commands()
    _run(["bash", "-c", "python3 -m pip install --quiet ."], checkout, fresh.env())
    assert fresh.dashfix_version(checkout) == f"dashfix {__version__}"
    demo = _run([str(fresh.bin / "dashfix"), "verify", "fixtures/demo", "--format", "json"],
                checkout, fresh.env(), check=False)
    assert demo.returncode == 1 and '"CK104"' in demo.stdout
    fresh.uninstall(checkout)


def test_pipx_install_from_the_checkout(checkout: Path, fresh: FreshVenv,
                                       tmp_path: Path) -> None:
    """README's `pipx install .`: dashfix as a command in an isolated environment of its own
    (pipx itself comes from PyPI into the fresh venv; its home and bin folder are temporary)."""
    assert "pipx install ." in install_commands()
    _run([str(fresh.bin / "python"), "-m", "pip", "install", "--quiet", "pipx"], checkout,
         fresh.env())
    bin_dir = tmp_path / "pipx-bin"
    env = fresh.env(PIPX_HOME=str(tmp_path / "pipx-home"), PIPX_BIN_DIR=str(bin_dir),
                    PIPX_MAN_DIR=str(tmp_path / "pipx-man"))
    # pipx's own environment has no setuptools: its pip builds in isolation, as for a user.
    del env["PIP_NO_BUILD_ISOLATION"]
    _run(["bash", "-c", "pipx install ."], checkout, env)
    version = _run([str(bin_dir / "dashfix"), "--version"], checkout, env).stdout.strip()
    assert version == f"dashfix {__version__}"
    assert not (fresh.bin / "dashfix").exists()  # isolated: not in the venv pipx runs from


def test_pip_install_from_a_git_url(checkout: Path, fresh: FreshVenv) -> None:
    """README's `git+URL@REF` line, with this repository as the URL and HEAD as the ref
    (what the line installs is the committed tree at that ref)."""
    template = next(c for c in install_commands() if "git+" in c)
    head = _run(["git", "rev-parse", "HEAD"], REPO).stdout.strip()
    url = re.search(r"git\+(\S+?)@", template)
    assert url is not None
    command = template.replace(url.group(1), REPO.as_uri()).replace("@REF", f"@{head}")
    _run(["bash", "-c", command.replace("pip install", "pip install --quiet")], checkout,
         fresh.env())
    assert fresh.dashfix_version(checkout) == f"dashfix {__version__}"
    fresh.uninstall(checkout)


# -- make dist -------------------------------------------------------------------------

def test_make_dist_builds_an_sdist_and_a_wheel_that_installs(checkout: Path,
                                                             fresh: FreshVenv) -> None:
    venv_dir = Path(sys.prefix)
    # The Makefile's venv is this test run's; -o keeps make from rebuilding it.
    _run(["make", f"VENV={venv_dir}", "-o", f"{venv_dir}/.installed", "dist"], checkout)
    (sdist,) = (checkout / "dist").glob("dashfix-*.tar.gz")
    (wheel,) = (checkout / "dist").glob("dashfix-*.whl")
    with tarfile.open(sdist) as archive:
        in_sdist = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("dashfix/_native.c", "dashfix/formats/proto/dashstream.proto",
                   "dashfix/py.typed", "setup.py", "pyproject.toml", "README.md", "LICENSE"):
        assert needed in in_sdist, needed
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        dist_info = f"dashfix-{__version__}.dist-info"
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        license_text = archive.read(f"{dist_info}/licenses/LICENSE")
    assert {"dashfix/py.typed", "dashfix/formats/proto/dashstream.proto"} <= in_wheel
    # The license pyproject.toml declares, and its text, as the repository holds it.
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert "License-File: LICENSE" in metadata.splitlines()
    assert license_text == (REPO / "LICENSE").read_bytes()
    assert b"Apache License\n                           Version 2.0, January 2004" in license_text
    assert any(name.startswith("dashfix/_native.") and name.endswith(".so") for name in in_wheel)
    _run([str(fresh.bin / "python"), "-m", "pip", "install", "--quiet", str(wheel)], checkout,
         fresh.env())
    assert fresh.dashfix_version(checkout) == f"dashfix {__version__}"
    # Not from the checkout, whose dashfix/ folder would shadow the installed package.
    native = _run([str(fresh.bin / "python"), "-c", "import dashfix._native"], fresh.root,
                  fresh.env(), check=False)
    assert native.returncode == 0, native.stderr
    fresh.uninstall(checkout)


# -- the composite action --------------------------------------------------------------

def _action() -> dict[str, object]:
    loaded = yaml.safe_load((REPO / "action.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


class ActionRun:
    """Runs action.yml's `run:` steps as bash scripts, the way a runner does: expressions
    substituted, `env:` exported, `bash --noprofile --norc -eo pipefail`, GITHUB_OUTPUT read
    back into `steps.ID.outputs`. `uses:` steps (setup-python, upload-sarif) are GitHub's."""

    def __init__(self, checkout: Path, fresh: FreshVenv, workspace: Path,
                 inputs: Mapping[str, str]) -> None:
        action = _action()
        declared = action["inputs"]
        assert isinstance(declared, dict)
        unknown = set(inputs) - set(declared)
        assert not unknown, unknown
        self.inputs = {name: inputs.get(name, str(spec.get("default", "")))
                       for name, spec in declared.items()}
        self.checkout, self.fresh, self.workspace = checkout, fresh, workspace
        self.outputs: dict[str, dict[str, str]] = {}
        self.log: dict[str, str] = {}

    def value(self, expression: str) -> str:
        if expression == "github.action_path":
            return str(self.checkout)
        kind, _, rest = expression.partition(".")
        if kind == "inputs":
            return self.inputs[rest]
        if kind == "steps":
            step, _, output = rest.partition(".outputs.")
            return self.outputs.get(step, {}).get(output, "")
        raise AssertionError(f"the test does not know the expression {expression!r}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), text)

    def condition(self, text: str) -> bool:
        # The conditions action.yml uses: always(), ==, != and && on strings.
        python = re.sub(r"\b(inputs|steps)\.[\w.-]+",
                        lambda match: repr(self.value(match.group(0))),
                        text.replace("always()", "True").replace("&&", " and "))
        return bool(eval(python, {"__builtins__": {}}, {"True": True}))

    def steps(self) -> Iterator[dict[str, object]]:
        runs = _action()["runs"]
        assert isinstance(runs, dict) and runs["using"] == "composite"
        yield from runs["steps"]

    def run(self, already_run: tuple[str, ...] = ("Install dashfix",)) -> int:
        """Every step in order but ``already_run`` (the install step, which the
        ``installed_by_the_action`` fixture ran once); the exit status of the first failing
        step, else 0."""
        for step in self.steps():
            if "uses" in step or step.get("name") in already_run:
                continue
            condition = str(step.get("if", "success()")).replace("success()", "True")
            if not self.condition(condition):
                continue
            assert step["shell"] == "bash"
            output_file = self.workspace / f".github-output-{len(self.outputs)}"
            output_file.write_text("")
            env = self.fresh.env(GITHUB_OUTPUT=str(output_file),
                                 GITHUB_WORKSPACE=str(self.workspace))
            step_env = step.get("env", {})
            assert isinstance(step_env, dict)
            env.update({name: self.substitute(str(value)) for name, value in step_env.items()})
            script = str(step["run"])
            assert "${{" not in script, "inputs must reach the script through env"
            result = _run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          self.workspace, env, check=False)
            self.log[str(step["name"])] = result.stdout + result.stderr
            if "id" in step:
                self.outputs[str(step["id"])] = dict(
                    line.split("=", 1) for line in output_file.read_text().splitlines()
                )
            if result.returncode != 0:
                return result.returncode
        return 0


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A repository whose artifacts hold a healthy store and three dangling symlinks (DF002
    warnings, see symlink_farm), and a config that fails on warnings."""
    (tmp_path / ".git").mkdir()  # the config search stops here
    symlink_farm(tmp_path / "artifacts", 3)  # the links and a healthy store beside them
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dashfix]\npaths = ["artifacts"]\nfail_on = "warning"\n'
    )
    return tmp_path


@pytest.fixture(scope="module")
def installed_by_the_action(checkout: Path, fresh: FreshVenv,
                            tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    """The action's install step, run on its own: it installs the action's checkout."""
    workspace = tmp_path_factory.mktemp("install-step")
    action = ActionRun(checkout, fresh, workspace, {})
    install = next(step for step in action.steps() if step.get("name") == "Install dashfix")
    env = fresh.env(**{name: action.substitute(str(value))
                       for name, value in dict(install.get("env", {})).items()})
    _run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", str(install["run"])],
         workspace, env)
    assert fresh.dashfix_version(workspace) == f"dashfix {__version__}"
    return fresh


def test_action_installs_its_own_checkout() -> None:
    install = next(step for step in _action()["runs"]["steps"]  # type: ignore[index]
                   if step.get("name") == "Install dashfix")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert "pip install" in install["run"] and "dashfix==" not in install["run"]


def test_action_leaves_fail_on_to_the_config(installed_by_the_action: FreshVenv,
                                             checkout: Path, workspace: Path) -> None:
    assert _action()["inputs"]["fail-on"].get("default", "") == ""  # type: ignore[index]
    action = ActionRun(checkout, installed_by_the_action, workspace, {"upload": "false"})
    # fail_on = "warning" in pyproject.toml: the three warnings fail the step.
    assert action.run() == 1
    assert action.outputs["verify"]["exit-code"] == "1"
    assert action.log["dashfix verify"].count("::warning file=artifacts/part000/link") == 3
    assert "dashfix verify exited 1" in action.log["Fail on findings"]
    assert (workspace / "dashfix.sarif").exists()


def test_action_inputs_override_the_config(installed_by_the_action: FreshVenv,
                                           checkout: Path, workspace: Path) -> None:
    action = ActionRun(checkout, installed_by_the_action, workspace,
                       {"fail-on": "error", "sarif-file": "out.sarif"})
    assert action.run() == 0
    assert action.outputs["verify"]["exit-code"] == "0"
    assert (workspace / "out.sarif").exists()


def test_action_path_input_and_unreadable_root(installed_by_the_action: FreshVenv,
                                               checkout: Path, workspace: Path) -> None:
    action = ActionRun(checkout, installed_by_the_action, workspace,
                       {"path": "artifacts:missing", "fail-on": "never"})
    assert action.run() == 3  # a root that cannot be read fails whatever fail-on says


@pytest.mark.parametrize(("allow_empty", "status"), [("", 3), ("false", 3), ("true", 0)])
def test_action_allow_empty_input(installed_by_the_action: FreshVenv, checkout: Path,
                                  workspace: Path, allow_empty: str, status: int) -> None:
    """An artifact folder with nothing to check: DF003 and exit code 3 unless the input
    (``DASHFIX_ALLOW_EMPTY`` for dashfix) allows it; left empty, the config decides."""
    (workspace / "empty").mkdir()
    inputs = {"path": "empty", "upload": "false"}
    if allow_empty:
        inputs["allow-empty"] = allow_empty
    action = ActionRun(checkout, installed_by_the_action, workspace, inputs)
    assert action.run() == status
    assert action.outputs["verify"]["exit-code"] == str(status)
    log = action.log["dashfix verify"]
    assert ("nothing to check under empty (allowed by --allow-empty)" in log) == (status == 0)
    assert ("DF003" in log) == (status == 3)


def test_action_allow_empty_input_is_left_to_the_config(
        installed_by_the_action: FreshVenv, checkout: Path, workspace: Path) -> None:
    assert _action()["inputs"]["allow-empty"].get("default", "") == ""  # type: ignore[index]
    (workspace / "empty").mkdir()
    with open(workspace / "pyproject.toml", "a") as config:
        config.write("allow_empty = true\n")
    action = ActionRun(checkout, installed_by_the_action, workspace,
                       {"path": "empty", "upload": "false"})
    assert action.run() == 0
    action = ActionRun(checkout, installed_by_the_action, workspace,
                       {"path": "empty", "upload": "false", "allow-empty": "false"})
    assert action.run() == 3  # the input beats the config


# -- the pre-commit hook ---------------------------------------------------------------

def test_pre_commit_hook_runs_as_a_script(installed_by_the_action: FreshVenv,
                                          workspace: Path) -> None:
    """pre-commit runs `entry` plus `args` (no file names: pass_filenames is false) in the
    repository, from an environment where the hook's repository is installed."""
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    argv = [*shlex.split(hook["entry"]), *hook.get("args", [])]
    env = installed_by_the_action.env()
    failing = _run(argv, workspace, env, check=False)
    assert failing.returncode == 1, failing.stderr  # fail_on = "warning" from the config
    (workspace / "pyproject.toml").write_text('[tool.dashfix]\npaths = ["artifacts"]\n')
    assert _run(argv, workspace, env, check=False).returncode == 0
