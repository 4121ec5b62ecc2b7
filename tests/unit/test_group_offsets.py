from pelastus_hub.runtime.group_offsets import group_partition, java_string_hash


def test_the_group_partition_is_the_brokers() -> None:
    # Figures from Java 17: s.hashCode() and Math.abs(s.hashCode()) % n.
    assert java_string_hash("pelastus-hub") == -915913967
    assert java_string_hash("ääkkönen-ryhmä") == -2028477748
    assert [group_partition("pelastus-hub", n) for n in (50, 4)] == [17, 3]
    assert [group_partition("my-group", n) for n in (50, 4)] == [12, 2]
    assert group_partition("ääkkönen-ryhmä", 50) == 48
