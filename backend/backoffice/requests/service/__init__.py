"""The ledger's work, one module per part: `filing` (a request with its outbox, in one transaction),
`drafts` (what the customer confirms), `receipts` (the e-mail receipt), `views` (a request as the API
and the console show it) and `privacy_team` (the overview, extending and retrying)."""
