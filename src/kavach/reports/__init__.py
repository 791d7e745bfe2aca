"""Reports made from review cases.

- :mod:`kavach.reports.ncmec`: CyberTipline report and file-details XML, schema validation, client;
- :mod:`kavach.reports.submit`: queueing and submitting to the CyberTipline from the outbox;
- :mod:`kavach.reports.india`: POCSO rule 11 / cyber-crime portal export (JSON, CSV);
- :mod:`kavach.reports.vics`: VICS 2.0 case export;
- :mod:`kavach.reports.html`: the printable HTML case report;
- :mod:`kavach.reports.details`: the case details reports read (documented in docs/reports.md).
"""
