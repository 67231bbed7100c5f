"""How far a test image was from its line's training images, by the AZGCB
names (LINE_WELL_1_DDdHHhMMm: the well, the time since seeding): for
transfer_table.py and small_crops.py."""
import re

BUCKETS = ["within a day", "a day or more", "another well", "unknown"]


def taken(name):
    """(well, hours since seeding) from an image's name or stem, or None."""
    m = re.search(r"_([A-Z]+\d+)_\d+_(\d+)d(\d+)h(\d+)m", name)
    return m and (m[1], int(m[2]) * 24 + int(m[3]) + int(m[4]) / 60)


def apart(trained, tested):
    """The bucket of image `tested` against the nearest of the names `trained`."""
    t = taken(tested)
    ts = [x for x in map(taken, trained) if x]
    if not t or not ts:
        return "unknown"
    same = [abs(t[1] - x[1]) for x in ts if x[0] == t[0]]
    if not same:
        return "another well"
    return "within a day" if min(same) < 24 else "a day or more"
