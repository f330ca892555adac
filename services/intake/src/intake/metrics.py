"""The intake service's domain counters. Labels are codes with a handful of values — never ids,
offices or anything about a person."""
from prometheus_client import Counter

CASES_REGISTERED = Counter("intake_cases_registered_total", "Cases registered", ["organisation_kind"])
CONSENTS_GRANTED = Counter("intake_consents_granted_total", "Consents recorded", ["purpose"])
CONSENTS_WITHDRAWN = Counter("intake_consents_withdrawn_total", "Consents withdrawn", ["purpose"])
INCIDENTS_RECORDED = Counter("intake_incidents_recorded_total", "Incidents recorded", ["sexual_violence"])
CLINICAL_WINDOWS = Counter("intake_clinical_windows_opened_total", "Cases with an open PEP/EC window")
POSSIBLE_DUPLICATES = Counter("intake_possible_duplicates_total", "Possible duplicates flagged", ["matched_on"])
CASES_CLOSED = Counter("intake_cases_closed_total", "Cases closed", ["closure_reason"])
CASES_ERASED = Counter("intake_cases_erased_total", "Cases erased by crypto-shredding")
TRANSFERS = Counter("intake_transfers_total", "Transfer steps", ["step"])
IDENTITY_READS = Counter("intake_identity_reads_total", "Identity vault reads", ["purpose"])
SHARED_DATA_READS = Counter("intake_shared_data_reads_total", "Referred-case reads by receiving organisations")
KEYS_REWRAPPED = Counter("intake_keys_rewrapped_total", "Case data keys rewrapped under the current KEK")
VAULT_ERRORS = Counter("intake_vault_errors_total", "Vault records that could not be opened", ["kind"])
