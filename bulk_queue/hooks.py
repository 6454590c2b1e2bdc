app_name = "bulk_queue"
app_title = "Bulk Queue"
app_publisher = "bulk_queue contributors"
app_description = (
	"Process thousands to millions of Frappe documents in the background, safely, with live progress"
)
app_email = "dev@bulk-queue.invalid"
app_license = "mit"

# Desk
# ----
# "Bulk Process" in every list view, the progress tray; bootinfo tells Desk where to offer it.

app_include_js = "bulk_queue.bundle.js"
app_include_css = "bulk_queue.bundle.css"
extend_bootinfo = "bulk_queue.boot.extend_bootinfo"

# Installation
# ------------

after_install = "bulk_queue.install.after_install"
before_uninstall = "bulk_queue.install.before_uninstall"

# Scheduled Tasks
# ---------------

scheduler_events = {
	"cron": {
		# find chunks whose worker died, timed out or vanished with Redis, and re-enqueue them
		"* * * * *": ["bulk_queue.tasks.recovery.recover"],
	},
}

# Jobs
# ----
# every job a worker starts also looks (throttled) for lost chunks, so recovery does not depend on the
# scheduler alone: a dormant site runs its scheduled jobs only once a day.
before_job = ["bulk_queue.tasks.recovery.maybe_recover"]

# Permissions
# -----------
# The file a Print or Export job makes (and its parts) is for the job's requester only: not for
# everyone who may read the job (System Managers read every job), since it holds what the requester
# may read.
has_permission = {"File": "bulk_queue.outputs.file_permission"}
# ...and Frappe serves /private/files/ by its own File rule, which no hook reaches.
before_request = ["bulk_queue.outputs.guard_download"]

# Log clearing
# ------------

default_log_clearing_doctypes = {
	"Bulk Queue Job": 90,
}

# Automatically update python controller files with type annotations for this app.
export_python_type_annotations = True

# Bulk actions
# ------------
# Other apps register actions the same way:
# bulk_queue_actions = {"my_action": "my_app.module.function"}  # function(doc, values)
# or {"my_action": {"method": ..., "ptype": "write", "label": "My Action", "doctypes": ["Item"]}}
# and get called when a bulk job finishes:
# bulk_queue_on_complete = ["my_app.module.on_bulk_job_complete"]  # function(bulk_job_name)
