"""The README's examples are true: its connection lines reach the base URLs they claim, its scenario
file loads, its control-API calls work, and the newcomer's DAG parses. (``make test-wheel`` runs the
newcomer's steps themselves in a clean environment: scripts/wheel_smoke.py.)"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_provider_tasks.hooks.mobizon import MobizonHook
from airflow_provider_tasks.hooks.openreplay import OpenReplayHook
from airflow_provider_tasks.hooks.posteketab import PostEKetabHook
from airflow_provider_tasks.simulator import Simulator
from airflow_provider_tasks.simulator.__main__ import banner

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
HOOKS = {"POSTEKETAB": PostEKetabHook, "OPENREPLAY": OpenReplayHook, "MOBIZON": MobizonHook}


def blocks(language: str) -> list[str]:
    """The README's fenced code blocks of ``language``."""
    return re.findall(rf"^ *```{language}\n(.*?)^ *```", README, flags=re.DOTALL | re.MULTILINE)


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


CONNECTION_EXAMPLES = [
    (name.removeprefix("AIRFLOW_CONN_").removesuffix("_DEFAULT"), value)
    for line in section("Connections").splitlines()
    if line.strip().startswith("export AIRFLOW_CONN_")
    for name, value in [shlex.split(line.strip())[1].split("=", 1)]
]
EXPECTED_BASE_URLS = {
    "https://api.posteketab.com/api/v2/public",
    "https://api.openreplay.com/v2",
    "https://api.mobizon.kz",
    "http://openreplay.internal:8080/api/v2",
}


@pytest.mark.parametrize(("service", "value"), CONNECTION_EXAMPLES)
def test_the_connection_examples_reach_the_base_urls_they_claim(monkeypatch, service, value):
    value = value.replace("<", "x").replace(">", "x")  # placeholders, filled in
    monkeypatch.setenv(f"AIRFLOW_CONN_{service}_DEFAULT", value)
    assert HOOKS[service]().settings.base_url in EXPECTED_BASE_URLS, value


def test_every_form_of_the_connection_section_is_shown():
    assert len(CONNECTION_EXAMPLES) == 6  # three JSON, three URI
    assert {value[:1] for _, value in CONNECTION_EXAMPLES} == {"{", "p", "o", "m"}


def test_the_exported_form_the_readme_quotes_parses(monkeypatch):
    quoted = re.search(r"`(openreplay://http://[^`]+)`", section("Connections"))
    assert quoted is not None
    monkeypatch.setenv("AIRFLOW_CONN_OPENREPLAY_DEFAULT", quoted.group(1).replace("KEY", "secret-key"))
    assert OpenReplayHook().settings.base_url == "http://openreplay.internal:8080/api/v2"


def test_the_scenario_example_loads_and_its_new_items_are_printed():
    (scenario,) = blocks("json")
    with Simulator(port=0) as sim:
        created = sim.load_scenario(json.loads(scenario))
        printed = banner(sim, "my_scenario.json", created)
    assert [service for service, _ in created] == ["posteketab", "posteketab", "openreplay", "mobizon"]
    assert "#   posteketab task my-failing-export" in printed and "#   mobizon task 7001" in printed
    assert "#   openreplay job 1000" in printed


def test_the_printed_sample_matches_what_the_simulator_prints():
    (sample,) = [block for block in blocks("text") if "simulator ready on" in block]
    with Simulator(port=0) as sim:
        from airflow_provider_tasks.simulator.scenario import read_scenario

        printed = banner(sim, "demo", sim.load_scenario(read_scenario("demo")))
    printed = [line.replace(str(sim.port), "8765") for line in printed]
    for line in sample.splitlines():
        if line == "..." or line.startswith("simulator ready"):
            continue
        head = line.split("...")[0]
        assert any(candidate.startswith(head) for candidate in printed), line


def _hook_for(sim: Simulator) -> OpenReplayHook:
    hook = OpenReplayHook()
    hook._settings = hook._settings_from(_Conn(sim), {"project_key": sim.openreplay_project_key})
    return hook


class _Conn:
    def __init__(self, sim: Simulator) -> None:
        self.conn_type, self.host, self.port, self.schema = "openreplay", sim.openreplay_url, None, None
        self.password = sim.openreplay_api_key


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_control_api_examples_work():
    (calls,) = [block for block in blocks("bash") if "/_sim/" in block]
    with Simulator(port=0) as sim:
        from airflow_provider_tasks.simulator.scenario import read_scenario

        sim.load_scenario(read_scenario("demo"))
        script = calls.replace("127.0.0.1:8765", f"127.0.0.1:{sim.port}")
        answers = subprocess.run(["bash", "-ec", script], capture_output=True, text=True, timeout=60, check=True)
        assert OpenReplayHook.get_job(_hook_for(sim), 1000)["status"] == "failed"
        assert len(sim.faults) == 1 and sim.faults[0].code == 30
    lines = [json.loads(line) for line in answers.stdout.replace("}{", "}\n{").splitlines()]
    assert "id" in lines[0] and lines[1] == {"ok": True} and lines[-1]["total"] == 0


def test_the_newcomers_dag_parses(tmp_path, monkeypatch):
    (dag,) = [block for block in blocks("python") if "my_first_wait" in block]
    (tmp_path / "my_first_wait.py").write_text(dag, encoding="utf-8")
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag
    if "from airflow.sdk import" in dag:
        pytest.importorskip("airflow.sdk")
    bag = DagBag(dag_folder=str(tmp_path))
    assert not bag.import_errors and bag.dag_ids == ["my_first_wait"]
