"""Generates deploy/grafana/tollgate.json, the Tollgate dashboard, from code
(grafana-foundation-sdk). Never edit the JSON by hand: change this file and run
`python deploy/grafana/dashboard.py > deploy/grafana/tollgate.json`;
scripts/check-deploy fails when the committed JSON differs from what this prints.
"""

from grafana_foundation_sdk.builders.dashboard import Dashboard, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery as PrometheusQuery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import TimeZoneBrowser

RATE = "$__rate_interval"


def query(expr, legend):
    return PrometheusQuery().expr(expr).legend_format(legend)


def series(title, unit, *queries, width=12):
    panel = Timeseries().title(title).unit(unit).min(0).height(8).span(width)
    for expr, legend in queries:
        panel = panel.with_target(query(expr, legend))
    return panel


def stat(title, unit, expr):
    return Stat().title(title).unit(unit).height(4).span(6).with_target(query(expr, title))


def quantile(q, metric, by="instance"):
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket[{RATE}])))"


def build():
    return (
        Dashboard("Tollgate")
        .uid("tollgate-overview")
        .tags(["tollgate", "generated"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone(TimeZoneBrowser)
        .with_row(Row("Traffic"))
        .with_panel(stat("Requests/s", "reqps", "sum(rate(tollgate_http_requests_total[$__rate_interval]))"))
        .with_panel(stat("5xx share", "percentunit",
                         "sum(rate(tollgate_http_requests_total{status=~\"5..\"}[$__rate_interval]))"
                         " / sum(rate(tollgate_http_requests_total[$__rate_interval]))"))
        .with_panel(stat("Spooled events", "short", "sum(tollgate_spool_depth)"))
        .with_panel(stat("Open breakers", "short", "sum(tollgate_deployment_breaker_state == 1) or vector(0)"))
        .with_panel(series("Requests by status", "reqps",
                           (f"sum by (status) (rate(tollgate_http_requests_total[{RATE}]))", "{{status}}")))
        .with_panel(series("Gateway overhead (total minus upstream)", "s",
                           (quantile(0.5, "tollgate_gateway_overhead_seconds"), "p50 {{instance}}"),
                           (quantile(0.99, "tollgate_gateway_overhead_seconds"), "p99 {{instance}}")))
        .with_row(Row("Upstreams"))
        .with_panel(series("Upstream attempts", "reqps",
                           (f"sum by (deployment, outcome) (rate(tollgate_deployment_attempts_total[{RATE}]))",
                            "{{deployment}} {{outcome}}")))
        .with_panel(series("Upstream latency p99", "s",
                           (quantile(0.99, "tollgate_deployment_latency_seconds", "deployment"), "{{deployment}}")))
        .with_row(Row("Cache and admission"))
        .with_panel(series("Cache lookups", "reqps",
                           (f"sum by (outcome) (rate(tollgate_cache_lookups_total[{RATE}]))", "{{outcome}}")))
        .with_panel(series("Admission refusals (402)", "reqps",
                           (f"sum by (code) (rate(tollgate_admission_rejections_total[{RATE}]))", "{{code}}")))
        .with_row(Row("Events and consumers"))
        .with_panel(series("Events published and acknowledged", "ops",
                           (f"sum(rate(tollgate_events_enqueued_total[{RATE}]))", "enqueued"),
                           (f"sum(rate(tollgate_events_acked_total[{RATE}]))", "acked"),
                           (f"sum(rate(tollgate_ledger_booked_total[{RATE}]))", "booked by the ledger")))
        .with_panel(series("Consumer lag p99 (event age when applied)", "s",
                           (quantile(0.99, "tollgate_ledger_lag_seconds", "job"), "ledger"),
                           (quantile(0.99, "tollgate_analytics_lag_seconds", "job"), "analytics")))
        .with_panel(series("Spool", "short",
                           ("tollgate_spool_depth", "depth {{instance}}"),
                           ("tollgate_events_queue_depth", "publish queue {{instance}}")))
        .with_panel(series("Alerts raised and webhook deliveries", "ops",
                           (f"sum(rate(tollgate_alerting_raised_total[{RATE}]))", "raised"),
                           (f"sum by (outcome) (rate(tollgate_alerting_deliveries_total[{RATE}]))",
                            "delivered {{outcome}}")))
    )


if __name__ == "__main__":
    print(JSONEncoder(sort_keys=True, indent=2).encode(build().build()))
