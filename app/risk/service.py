"""Risk control's front: what routers and other domains call. The modules behind it are private."""

from __future__ import annotations

from app.risk import bridges, claims, funds

# Funds, their ledger and the sharing schemes.
create_fund = funds.create
get_fund = funds.get
list_funds = funds.list_funds
add_entry = funds.add_entry
entries = funds.entries
set_sharing = funds.set_sharing
sharing_history = funds.sharing_history
# For the coverage statistics: per county, the funds' balances and whether one is below its minimum.
county_figures = funds.county_figures

# Compensation claims; `recover` answers the signal `drawdowns.written_off_repaid` (a repayment on a written-off loan).
file_claim = claims.file
get_claim_for_bank = claims.get_for_bank
list_claims_for_bank = claims.list_for_bank
get_claim_for_admin = claims.get_for_admin
list_claims_for_admin = claims.list_for_admin
approve_claim = claims.approve
reject_claim = claims.reject
recover = claims.recover

# Bridge loans; `flag_overdue_bridges` is the worker's sweep.
request_bridge = bridges.request
get_bridge_for_bank = bridges.get_for_bank
list_bridges_for_bank = bridges.list_for_bank
get_bridge_for_admin = bridges.get_for_admin
list_bridges_for_admin = bridges.list_for_admin
approve_bridge = bridges.approve
reject_bridge = bridges.reject
repay_bridge = bridges.repay
flag_overdue_bridges = bridges.flag_overdue
