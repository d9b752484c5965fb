"""Writes scenarios/lifecycle.toml: the full-life-cycle benchmark network,
the same model as tools/simpy_lifecycle.py (issue "Speed", benches/engine.rs).

    python3 tools/gen_lifecycle.py > scenarios/lifecycle.toml
"""

LOCKERS = 100

print('''#:schema ../docs/scenario.schema.json
# The full-life-cycle benchmark (benches/engine.rs, `lifecycle_one_core`),
# written by tools/gen_lifecycle.py; tools/simpy_lifecycle.py is the same
# model in SimPy. 100 lockers x 60 compartments, 30 orders a day each, flat
# demand, one tier: the compartment is held from checkout (naive-hold), the
# driver comes 12 h later, dwell is lognormal (mean 30 h, CV 1), the window
# is 72 h and an expired package is retrieved 24 h after expiry. About 97%
# of orders are accepted, so nearly every package runs the whole life cycle.
name = "lifecycle"

[simulation]
seed = 1
horizon_days = 60
warmup_days = 0

[lifecycle]
pickup_window_hours = 72
reminder_before_expiry_hours = 24
retrieval_delay = { dist = "fixed", hours = 24 }

# SimPy's model: every customer comes after their dwell; reminders are sent
# and counted but move nobody.
[customers]
abandon_share = 0
reminder_response_share = 0

[tiers.same_day]
lead_time = { dist = "fixed", hours = 12 }
reservation_timeout_hours = 24

[demand]
orders_per_day = 30
tier_mix = { same_day = 1 }
size_mix = { S = 1 }

[demand.profiles.grocery]
hourly = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
weekly = [1, 1, 1, 1, 1, 1, 1]

[[dwell]]
dist = "lognormal"
mean_hours = 30
cv = 1

[policy]
kind = "naive-hold"''')
for i in range(LOCKERS):
    print(f'''
[[locations]]
id = "l{i:03}"
kind = "grocery"
hours = "24/7"
compartments = {{ S = 60 }}''')
