"""Tests of the Helm chart, the Dockerfile and the Airflow values (a package: its modules share helpers)."""
