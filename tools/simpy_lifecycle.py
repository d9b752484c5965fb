"""The full-life-cycle benchmark model in SimPy 4, to measure lockerlab's
engine against the tool a user would otherwise pick, on the same model
(scenarios/lifecycle.toml; issue "Speed").

    pip install simpy
    python3 tools/simpy_lifecycle.py            # prints packages/s

100 lockers x 60 compartments, Poisson checkouts at 30 a day per locker; a
checkout takes a compartment if one is free (held from checkout) or is
rejected; the driver deposits 12 h later; the customer comes after a
lognormal dwell (mean 30 h, CV 1) if that is within the 72 h window, else the
package expires, a reminder having gone out 24 h before, and is retrieved
24 h after expiry, freeing the compartment.
"""

import math
import random
import time

import simpy

LOCKERS, COMPARTMENTS, ORDERS_PER_DAY, DAYS = 100, 60, 30, 60
LEAD_H, WINDOW_H, REMINDER_H, RETRIEVAL_H = 12.0, 72.0, 24.0, 24.0
MEAN_H, CV = 30.0, 1.0
SIGMA = math.sqrt(math.log(1 + CV * CV))
MU = math.log(MEAN_H) - SIGMA * SIGMA / 2


class Counts:
    offered = accepted = picked_up = expired = reminders = 0


def package(env, locker, rng, counts):
    yield env.timeout(LEAD_H)  # the driver deposits
    dwell = rng.lognormvariate(MU, SIGMA)
    if dwell <= WINDOW_H - REMINDER_H:
        yield env.timeout(dwell)
        counts.picked_up += 1
    else:
        yield env.timeout(WINDOW_H - REMINDER_H)
        counts.reminders += 1
        if dwell <= WINDOW_H:
            yield env.timeout(dwell - (WINDOW_H - REMINDER_H))
            counts.picked_up += 1
        else:
            yield env.timeout(REMINDER_H + RETRIEVAL_H)
            counts.expired += 1
    yield locker.put(1)  # the compartment is free again


def checkouts(env, locker, rng, counts):
    rate = ORDERS_PER_DAY / 24.0
    while True:
        yield env.timeout(rng.expovariate(rate))
        counts.offered += 1
        if locker.level > 0:
            yield locker.get(1)
            counts.accepted += 1
            env.process(package(env, locker, rng, counts))


def main():
    rng = random.Random(1)
    env = simpy.Environment()
    counts = Counts()
    for _ in range(LOCKERS):
        locker = simpy.Container(env, capacity=COMPARTMENTS, init=COMPARTMENTS)
        env.process(checkouts(env, locker, rng, counts))
    started = time.perf_counter()
    env.run(until=DAYS * 24.0)
    secs = time.perf_counter() - started
    print(
        f"SimPy {simpy.__version__}: {counts.offered} packages "
        f"({counts.accepted / counts.offered:.1%} accepted, {counts.picked_up} picked up, "
        f"{counts.expired} expired) in {secs:.2f} s: {counts.offered / secs:,.0f} packages/s"
    )


if __name__ == "__main__":
    main()
