"""What the admin pages read and change: people, phones, communes and the audit log, each
filtered by the caller's scope. Plain functions; ``None`` means "not yours" and becomes a 404
that looks the same as "does not exist"."""

from __future__ import annotations

Errors = dict[str, str]  # field → catalogue key


# -- staff accounts ---------------------------------------------------------------------------


# -- volunteers -------------------------------------------------------------------------------


# -- enrollment codes and phones --------------------------------------------------------------


# -- printable sheets -------------------------------------------------------------------------


# -- communes (province admins) ---------------------------------------------------------------


# -- the audit log ----------------------------------------------------------------------------
