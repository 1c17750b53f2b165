#!/usr/bin/env python3
"""souk-eta (train and show) against the real PostgreSQL.

The test writes 1440 synthetic trips in one area, 60 per UTC hour of day, started 2 to
20 days ago, whose true figures are known:

  speed        8 m/s at night (00-05 UTC), 5 m/s in the rush hours (07-09, 16-18),
               6.5 m/s otherwise, along the road; each duration off by up to 5 %
  detour       the road is 1.3 times the straight line, give or take 3 %; road_m is
               known on every other trip
  outliers     10 trips whose meter ran on (5 times the duration), 5 road distances
               shorter than the straight line (read as unknown), and 10 unusable trips:
               5 GPS glitches (2 s for kilometres) and 5 hops under 100 m

and checks:

  fit          every hour's speed and the detour within 5 % of the truth, the 10
               unusable trips skipped, a held-out share near 0.2 with a small MAPE
  store        the row in eta_models holds the printed id, trips and error; training
               again gives the same id and adds no row; --dry-run stores nothing
  errors       too few usable trips (eta.min_trips above the count): exit 1, the error
               names the count; --since that excludes every trip; show of an unknown id
  show         the newest model and the model by id, JSON and text, with the figures
               train printed

The fit reads every trip in the table, and other tests (test_matching) leave trips of
their own behind, so the trips go to a table of the test's own: a schema eta_test_<tag>
holds a copy of trips' definition, and souk-eta runs with search_path=eta_test_<tag>,
public in its DSN, so that it reads that trips table and the real eta_models. The test
drops the schema and deletes its eta_models rows at the end.
"""
import datetime
import json
import os
import random
import subprocess
import unittest
import uuid

SOURCE_DIR = os.environ.get("SOUK_SOURCE_DIR", "/work/main")
BIN = os.environ.get("SOUK_BIN", os.path.join(SOURCE_DIR, "build", "bin"))
DSN = os.environ.get("SOUK_PG_DSN", "host=127.0.0.1 port=15432 dbname=souk user=souk")
TAG = uuid.uuid4().hex[:8]
SCHEMA = f"eta_test_{TAG}"
ETA_DSN = f"{DSN} options='-csearch_path={SCHEMA},public'"
AREA = 0x872830828ffffff  # an H3 cell at resolution 7
PER_HOUR = 60
DETOUR = 1.3
NIGHT = range(0, 6)
RUSH = (7, 8, 9, 16, 17, 18)
MEANDERS = 10  # usable, 5 times the duration
SHORT_ROADS = 5  # usable, road_m below the straight line
UNUSABLE = 10  # 5 GPS glitches and 5 short hops


def true_speed(hour):
    return 8.0 if hour in NIGHT else 5.0 if hour in RUSH else 6.5


def psql(sql):
    return subprocess.run(["psql", DSN, "-qAtX", "-v", "ON_ERROR_STOP=1", "-f", "-"],
                          input=sql, check=True, capture_output=True, text=True).stdout


def souk_eta(*args):
    return subprocess.run([os.path.join(BIN, "souk-eta"), "-X", f"pg.dsn={ETA_DSN}", *args],
                          capture_output=True, text=True, timeout=120)


def eta_json(*args):
    res = souk_eta(*args, "--json")
    if res.returncode != 0:
        raise AssertionError(f"souk-eta {' '.join(args)} exited {res.returncode}: "
                             f"{res.stderr}")
    return json.loads(res.stdout)


def trips_sql():
    """The INSERT of the synthetic trips (see the module's docstring)."""
    rng = random.Random(42)
    midnight = datetime.datetime.now(datetime.timezone.utc).replace(
        hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for i in range(24 * PER_HOUR):
        hour = i % 24
        start = midnight - datetime.timedelta(days=rng.randint(2, 20), hours=-hour,
                                              minutes=-rng.randint(0, 59))
        straight = rng.uniform(800, 6000)
        road = straight * DETOUR * rng.uniform(0.97, 1.03)
        duration = road / true_speed(hour) * rng.uniform(0.95, 1.05)
        road_m = f"{road:.1f}" if i % 2 == 0 else "NULL"
        n = i // 24  # the outliers spread over the hours
        if i % 24 == 5 and n < MEANDERS:
            duration *= 5
        elif i % 24 == 11 and n < SHORT_ROADS:
            road_m = f"{straight * 0.8:.1f}"
        elif i % 24 == 13 and n < UNUSABLE // 2:
            duration, road_m = 2.0, "NULL"  # 2 s for kilometres
        elif i % 24 == 19 and n < UNUSABLE // 2:
            straight = 50.0  # shorter than eta.min_straight_m
        rows.append(f"('r-{TAG}-{i:05d}', 'd-{TAG}', 'r-{TAG}', 0, 0, 0, 0, {AREA}, "
                    f"{straight:.1f}, {road_m}, '{start.isoformat()}', "
                    f"timestamptz '{start.isoformat()}' + interval '{duration:.3f} s')")
    return (f"INSERT INTO {SCHEMA}.trips (request_id, driver_id, rider_id, pickup_lat, pickup_lng, "
            "dropoff_lat, dropoff_lng, area, straight_m, road_m, started_at, completed_at) "
            "VALUES\n" + ",\n".join(rows) + ";\n")


def model_rows():
    return int(psql("SELECT count(*) FROM eta_models"))


class Eta(unittest.TestCase):
    ids = set()  # eta_models rows this test may have created

    @classmethod
    def setUpClass(cls):
        psql(f"CREATE SCHEMA {SCHEMA}; "
             f"CREATE TABLE {SCHEMA}.trips (LIKE public.trips INCLUDING ALL);")
        psql(trips_sql())
        cls.total = 24 * PER_HOUR
        cls.rows_before = model_rows()
        cls.first = eta_json("train")
        cls.ids.add(cls.first["id"])

    @classmethod
    def tearDownClass(cls):
        ids = ", ".join(f"'{i}'" for i in cls.ids)
        psql(f"DROP SCHEMA {SCHEMA} CASCADE;"
             + (f"DELETE FROM eta_models WHERE id IN ({ids});" if ids else ""))

    def test_fit_recovers_the_speeds_and_the_detour(self):
        doc = self.first
        model = doc["model"]
        self.assertEqual(model["id"], doc["id"])
        hours = {h: speed for h, speed, _ in model["hours"]}
        self.assertEqual(sorted(hours), list(range(24)))
        for h, speed in hours.items():
            self.assertAlmostEqual(speed / true_speed(h), 1, delta=0.05, msg=f"hour {h}")
        areas = {(a, h): speed for a, h, speed, _ in model["areas"]}
        self.assertEqual(sorted(areas), [(AREA, h) for h in range(24)])
        for (_, h), speed in areas.items():
            self.assertAlmostEqual(speed / true_speed(h), 1, delta=0.05, msg=f"hour {h}")
        self.assertAlmostEqual(doc["detour"] / DETOUR, 1, delta=0.05)
        # every other trip knows its road, but for the 5 shorter than the straight line
        self.assertGreater(doc["detour_trips"], 0.4 * doc["trips"])
        self.assertEqual((doc["hour_buckets"], doc["area_buckets"]), (24, 24))

    def test_held_out_split_and_error(self):
        doc = self.first
        held = doc["held_out"]
        self.assertEqual(doc["read"], self.total)
        self.assertEqual(doc["trips"] + doc["skipped"] + held["trips"] + held["skipped"],
                         self.total)
        self.assertEqual(doc["skipped"] + held["skipped"], UNUSABLE)
        self.assertAlmostEqual((held["trips"] + held["skipped"]) / self.total, 0.2,
                               delta=0.05)
        self.assertLess(held["mape"], 8)
        self.assertGreater(held["mape"], 0)
        self.assertLess(held["mae_s"], 0.08 * 3400 / 5)  # 8 % of a long rush-hour trip

    def test_the_model_is_stored(self):
        doc = self.first
        self.assertEqual(doc["stored"], "inserted")
        self.assertEqual(model_rows(), self.rows_before + 1)
        row = psql(f"SELECT trips, held_out, mae_s, mape, model::jsonb ->> 'id' "
                   f"FROM eta_models WHERE id = '{doc['id']}'").strip().split("|")
        self.assertEqual(row[0:2], [str(doc["trips"]), str(doc["held_out"]["trips"])])
        self.assertEqual([float(row[2]), float(row[3])],
                         [doc["held_out"]["mae_s"], doc["held_out"]["mape"]])
        self.assertEqual(row[4], doc["id"])

    def test_training_again_gives_the_same_model_and_no_row(self):
        before = model_rows()
        res = souk_eta("train")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"model      {self.first['id']}\n", res.stdout)
        self.assertIn("already in eta_models", res.stdout)
        self.assertIn(f"read       {self.total} trips completed in the last 30d", res.stdout)
        self.assertEqual(model_rows(), before)

    def test_dry_run_stores_nothing(self):
        before = model_rows()
        doc = eta_json("train", "--dry-run", "-X", "eta.min_trips=25")
        self.ids.add(doc["id"])  # removed at the end should it have been stored
        self.assertEqual(doc["stored"], "dry_run")
        self.assertNotEqual(doc["id"], self.first["id"])  # min_trips is in the model
        self.assertEqual(psql(f"SELECT count(*) FROM eta_models WHERE id = '{doc['id']}'"),
                         "0\n")
        self.assertEqual(model_rows(), before)

    def test_too_few_trips(self):
        res = souk_eta("train", "-X", "eta.min_trips=100000")
        self.assertEqual(res.returncode, 1)
        fitted = self.first["trips"] + self.first["skipped"]
        self.assertIn(f"error: could not fit eta model: {self.first['trips']} usable trips "
                      f"of {fitted}, need at least min_trips (100000)", res.stderr)
        res = souk_eta("train", "--since", "1d")  # every trip ended 2 days ago or more
        self.assertEqual(res.returncode, 1)
        self.assertIn("0 usable trips of 0", res.stderr)
        self.assertIn("0 trips completed in the last 1d", res.stderr)

    def test_show(self):
        first = self.first
        for args in ((), (first["id"],)):
            doc = eta_json("show", *args)
            self.assertEqual({k: doc[k] for k in ("id", "trips", "skipped", "detour",
                                                  "detour_trips", "speed", "model")},
                             {k: first[k] for k in ("id", "trips", "skipped", "detour",
                                                    "detour_trips", "speed", "model")})
            held = first["held_out"]
            self.assertEqual(doc["held_out"], {"trips": held["trips"], "mae_s": held["mae_s"],
                                               "mape": held["mape"]})
            self.assertRegex(doc["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        res = souk_eta("show", first["id"])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"model      {first['id']}\n", res.stdout)
        self.assertIn(f"held out   {first['held_out']['trips']} trips: "
                      f"MAE {first['held_out']['mae_s']:.1f} s, "
                      f"MAPE {first['held_out']['mape']:.2f} %\n", res.stdout)
        self.assertIn(f"detour     {first['detour']:.4f} (median of {first['detour_trips']} "
                      f"trips with a road distance)\n", res.stdout)

    def test_usage_and_unknown_models(self):
        res = souk_eta("--help")
        self.assertEqual(res.returncode, 0)
        self.assertIn("--holdout-share P", res.stdout)
        self.assertIn("eta.min_trips (int, default \"30\"", res.stdout)
        res = souk_eta("show", "0123456789abcdef")
        self.assertEqual(res.returncode, 1)
        self.assertIn("no eta model with id 0123456789abcdef", res.stderr)
        for args, error in ((("show", "xyz"), 'model id "xyz"'),
                            (("train", "--holdout-share", "1"), "--holdout-share"),
                            (("train", "--since", "3w"), "--since"),
                            (("show", "--dry-run"), "--dry-run goes with train"),
                            (("retrain",), 'unknown command "retrain"')):
            res = souk_eta(*args)
            self.assertEqual(res.returncode, 2, args)
            self.assertIn(error, res.stderr)


if __name__ == "__main__":
    unittest.main()
