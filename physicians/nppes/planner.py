"""Keeps PostgreSQL's planner on the indexes while an NPPES import grows the directory.

Each batch of the bulk layer looks its keys up in the unique (organization, key)
indexes. Should PostgreSQL's planner choose to read all of the organization's
rows instead, once per batch, the import would slow with the square of its
size; the two functions here keep it to the indexes. The bulk layer calls them
on PostgreSQL only.
"""

from django.db import connection

from ..models import Physician, Practice


def _prefer_index_lookups() -> None:
    """Tells PostgreSQL, for this transaction, that pages are read in any order at little cost.

    True of a directory in memory, as it is during an import. With the default
    (four times a sequential read), the planner prefers reading every row of an
    organization with up to some 200,000 physicians to probing the index for a
    batch's 2,000 keys.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL random_page_cost = 1.1")


def _refresh_statistics() -> None:
    """Lets PostgreSQL see how much this import has added to the directory so far.

    The planner estimates from table statistics, and autovacuum cannot count
    rows of a transaction still open: believing the organization small, it
    would scan all its rows. ANALYZE here counts the transaction's own rows;
    run each time the import has grown fourfold, and only for the columns of
    the lookups, it costs little.
    """
    quote = connection.ops.quote_name
    tables = ", ".join(
        f"{quote(model._meta.db_table)} ({quote(model._meta.get_field('organization').column)}, {quote(key)})"
        for model, key in ((Physician, "npi"), (Practice, "location_key"))
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")
