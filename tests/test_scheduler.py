"""The local scheduler (``make serve``) finds every ``@app.schedule`` function registered on the app and
runs each on min(its rate, SHELF_LOCAL_SCHEDULE_SECONDS)."""

from __future__ import annotations

from chalice import Blueprint, Chalice, Cron, Rate

from infra.local.scheduler import Scheduler, discover, rate_seconds


def test_rates_in_seconds():
    assert rate_seconds(Rate(1, unit=Rate.MINUTES)) == 60
    assert rate_seconds(Rate(2, unit=Rate.HOURS)) == 7200
    assert rate_seconds("rate(3 days)") == 3 * 86400
    assert rate_seconds(Cron(0, 10, "*", "*", "?", "*")) is None


def test_every_schedule_of_the_app_is_found(monkeypatch):
    from app import app

    monkeypatch.delenv("SHELF_LOCAL_SCHEDULE_SECONDS", raising=False)
    jobs = {job.name: job.period for job in discover(app)}
    assert {"rollup_downloads", "collect_blobs"} <= set(jobs)
    assert all(period == 10 for period in jobs.values())  # min(rate, 10 s)
    monkeypatch.setenv("SHELF_LOCAL_SCHEDULE_SECONDS", "0.5")
    assert {job.period for job in discover(app)} == {0.5}


def test_each_job_runs_when_due_with_a_scheduled_event():
    app = Chalice("t")
    blueprint = Blueprint(__name__)
    calls: list[tuple[str, str]] = []

    @blueprint.schedule(Rate(1, unit=Rate.MINUTES))
    def often(event):
        calls.append(("often", event.to_dict()["detail-type"]))

    @blueprint.schedule(Cron(0, 3, "*", "*", "?", "*"))
    def nightly(event):
        calls.append(("nightly", event.to_dict()["detail-type"]))

    @app.schedule(Rate(2, unit=Rate.HOURS))
    def failing(event):
        raise RuntimeError("boom")  # logged, the others still run

    app.register_blueprint(blueprint)
    scheduler = Scheduler(app, cap=30)
    assert {j.name: j.period for j in scheduler.jobs} == {"often": 30, "nightly": 30, "failing": 30}
    assert sorted(scheduler.run_due(at=100.0)) == ["failing", "nightly", "often"]
    assert sorted(calls) == [("nightly", "Scheduled Event"), ("often", "Scheduled Event")]
    assert scheduler.run_due(at=120.0) == []
    assert sorted(scheduler.run_due(at=130.0)) == ["failing", "nightly", "often"]
