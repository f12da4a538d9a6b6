"""The HTTP API (FastAPI): thin routes over :class:`plaudit.application.service.Plaudit`."""
