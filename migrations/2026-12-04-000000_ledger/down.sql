DROP TABLE IF EXISTS cash_outs;
DROP TABLE IF EXISTS payout_destinations;
DROP TABLE IF EXISTS ledger_entries;
DROP TABLE IF EXISTS ledger_transactions;
DROP TABLE IF EXISTS ledger_accounts;
