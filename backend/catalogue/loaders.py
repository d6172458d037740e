from backend.catalogue import services

load_referenced_apps = services.referenced_by_ids
