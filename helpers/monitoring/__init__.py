"""Monitoring the brokers with Prometheus: PromQL over its HTTP API (`prometheus`), the golden
signals of each broker as PromQL (`signals`), incidents provoked on the real brokers while it
watches (`incidents`) and a picture of what it scrapes (`diagram`).

Prometheus and its exporters are started by the lab (`lab.brokers.services`); these modules only
ask them questions. Not for the alert rules themselves: they live in brokers/prometheus/alerts.yml.
"""
