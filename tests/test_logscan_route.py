from rota.logscan.route import template_path


def test_it_templates_ids_in_paths_and_drops_query_strings():
    assert template_path("/api/conversations/42") == "/api/conversations/:id"
    assert template_path("/api/users/7/settings?tab=2") == "/api/users/:id/settings"
    assert template_path("/api/messages/3f2a1b4c-1111-4aaa-8bbb-123456789abc") == (
        "/api/messages/:id"
    )
    assert template_path("/files/deadbeef12345678#x") == "/files/:id"
    assert template_path("/api/health") == "/api/health"
    assert template_path("") == "/"
