from pelastus_hub.contract.registry import Registry
from tests.unit.helpers import SCHEMAS

REGISTRY = Registry.load(SCHEMAS)


def test_twenty_one_departments_with_unique_slug_codes() -> None:
    codes = [d.code for d in REGISTRY.departments]
    assert len(codes) == len(set(codes)) == 21


def test_counties_served_cover_all_mainland_counties_once() -> None:
    served = [c.code for d in REGISTRY.departments for c in d.counties]
    assert sorted(served) == [f"{n:02d}" for n in range(1, 22)] + ["90"]
    keski = next(d for d in REGISTRY.departments if d.code == "keski-uusimaa")
    assert [c.code for c in keski.counties] == ["04", "02"]


def test_cooperation_areas_are_known_and_led_by_members() -> None:
    for department in REGISTRY.departments:
        assert department.cooperation_area in REGISTRY.cooperation_areas
    for name, area in REGISTRY.cooperation_areas.items():
        lead = next(d for d in REGISTRY.departments if d.code == area.lead_department)
        assert lead.cooperation_area == name


def test_input_topics_follow_the_contract() -> None:
    topics = REGISTRY.input_topics("unit-status")
    assert topics["dept.keski-uusimaa.unit-status"] == "keski-uusimaa"
    assert len(topics) == 21
