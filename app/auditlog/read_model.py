"""The audit log's read model over other domains' tables: the few columns that place an audited object in a
region, declared here by table and column name (STYLE: a read across domains is a named read model of the
domain that needs it).

The audit log sits low in the layers (`.importlinter`): it may not import the models of the domains whose
objects it places, so it declares what it reads instead. Read only, never written through.
`tests/auditlog/test_read_model.py` checks every table and column here against the owning domains' models, so
a rename there fails the suite, not a regulator's filter.
"""

from __future__ import annotations

from sqlalchemy import JSON, String, Uuid, column, table

drawdowns = table("drawdowns", column("id", Uuid()), column("village_code", String(12)))
households = table("households", column("id", Uuid()), column("village_code", String(12)))
certificates = table("certificates", column("id", Uuid()), column("household_id", Uuid()))
objections = table("rating_objections", column("id", Uuid()), column("village_code", String(12)))
demands = table("demands", column("id", Uuid()), column("village_code", String(12)))
demand_offers = table("demand_offers", column("id", Uuid()), column("demand_id", Uuid()))
consents = table("consents", column("id", Uuid()), column("household_id", Uuid()))
stations = table("stations", column("id", Uuid()), column("village_code", String(12)))
products = table("products", column("id", Uuid()), column("county_codes", JSON()))
bank_counties = table("bank_counties", column("bank_id", Uuid()), column("county_code", String(6)))
api_clients = table("api_clients", column("id", Uuid()), column("bank_id", Uuid()))
webhook_endpoints = table("webhook_endpoints", column("id", Uuid()), column("bank_id", Uuid()))
users = table("users", column("id", Uuid()), column("village_code", String(12)), column("bank_id", Uuid()))

TABLES = (
    drawdowns,
    households,
    certificates,
    objections,
    demands,
    demand_offers,
    consents,
    stations,
    products,
    bank_counties,
    api_clients,
    webhook_endpoints,
    users,
)
