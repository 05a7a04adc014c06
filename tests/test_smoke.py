def test_world_builds_and_a_pharmacist_sees_their_pharmacy(world) -> None:
    response = world.get(f"/api/v1/pharmacies/{world.home.pharmacy_id}")
    assert response.status_code == 200, response.text
    assert response.json()["open_weekdays"] == [0, 1, 2, 3, 4, 5]
