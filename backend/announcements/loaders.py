from backend.announcements import services

load_announcements = services.by_ids
