"""Benchmark harness of airflow-provider-tasks (``make bench`` = ``python -m bench``; not part of the tests).

It measures, against the bundled simulator running in its own process:

* concurrent waits in one asyncio process (HTTP requests per poll round, CPU per 1,000 waits per
  round, peak RSS, detection latency) for the package's triggers and for two peers: the HTTP
  provider's ``HttpSensorTrigger`` and a per-wait polling trigger written like the dbt Cloud
  provider's ``DbtCloudRunJobTrigger`` (:mod:`bench.peers`);
* the import cost of the package's public modules beyond ``airflow.sdk``;
* a 100,000-row Post-e-Ketab ``task_result`` through ``PostEKetabTaskResultOperator``.

Every measurement runs in a fresh subprocess, and the results are printed as a table of targets and
written to ``bench/results/latest.json``.
"""
