import pytest

from outbox.models import EmailSuppression, OutboundEmail
from tests.clinics.test_tenancy import leading_index_fields


@pytest.mark.parametrize("model", [OutboundEmail, EmailSuppression])
def test_outbox_rows_belong_to_an_organization_and_are_indexed_by_it(model):
    field = model._meta.get_field("organization")

    assert not field.null
    assert "organization" in leading_index_fields(model)


def test_only_the_senders_partial_indexes_do_not_lead_with_the_organization():
    """The sweep crosses organizations; every other index serves one organization's pages."""
    others = {
        index.name: (index.fields, index.condition is not None)
        for index in OutboundEmail._meta.indexes
        if index.fields[0] != "organization"
    }

    assert others == {
        "outbox_email_due": (["next_attempt_at"], True),
        "outbox_email_lease": (["claimed_until"], True),
    }
