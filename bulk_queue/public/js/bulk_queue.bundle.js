// Copyright (c) 2026, bulk_queue contributors
// For license information, please see license.txt
// Loaded on every Desk page (app_include_js): the "Bulk Process" list-view and form actions and the
// progress tray.

import "./utils";
import "./progress_tray";
import "./bulk_process_dialog";
import "./child_rows";
import "./list_view";
import "./form";
