"""The patient's agenda: appointments from every source, professionals' bookable slots,
reminders and calendar feeds (issue 13)."""
