"""The test suite's PostgreSQL backend (tests/settings.py selects it): Django's, with a flush
that empties tables with DELETE instead of TRUNCATE.

Transactional tests flush the whole database when they end. TRUNCATE of every table gives
each of them (and each index) a new file and takes an exclusive lock on all of them:
0.2 to 0.6 s a test on a quiet machine, over 1 s on a busy one, against a few milliseconds
to DELETE the handful of rows a test leaves. Replica mode keeps DELETE to what TRUNCATE
does: no trigger fires (the foreign keys' checks, the sync tombstones, the live counts), so
rows are emptied in any order and nothing is written on the way out. Like TRUNCATE without
RESTART IDENTITY, DELETE leaves sequences where they are; a flush that resets them or
cascades to tables outside the list is Django's own. Replica mode needs a superuser, as the
suite's DATABASE_URL is.
"""

from django.db.backends.postgresql import base, operations

# Rows that post_migrate, which Django runs after each flush, would insert again as they were
# (one content type per model, its permissions): kept, it finds them and inserts nothing.
KEPT = frozenset({"django_content_type", "auth_permission"})


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade:
            return super().sql_flush(
                style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # The flush runs in one transaction; LOCAL ends replica mode with it, and TO DEFAULT
        # ends it before anything else that transaction runs.
        return [
            "SET LOCAL session_replication_role TO replica;",
            *(
                f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
                for table in tables
                if table not in KEPT
            ),
            "SET LOCAL session_replication_role TO DEFAULT;",
        ]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
