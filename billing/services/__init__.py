"""Billing writes. One module per concern; the names others use are re-exported here:

- ledger: usage_record (one row per paid provider call)
- payments: Whop payments, the tiers they grant, tier changes and scheduled downgrades
- allowances: the tier table enforced (uploads, questions, burst limit)
- alerts: the 80% banner's e-mail, once per limit per period
- checkout: Whop checkout configurations for upgrades

Only ledger and payments are imported eagerly: allowances needs chronos.errors and
django-ratelimit, which callers import from billing.services.allowances directly.
"""

from billing.services.ledger import usage_record
from billing.services.payments import billing_account_for, payment_record

__all__ = ["billing_account_for", "payment_record", "usage_record"]
