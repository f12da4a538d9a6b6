"""One module per rulebook section, each compiling its part over a shared
:class:`~plaudit.rulebook.context.Context`."""
