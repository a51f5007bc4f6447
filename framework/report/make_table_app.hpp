#pragma once
// make_table: the paper table, figures and report.md of one sweep folder,
// from its run files alone (../shared/INTERFACES.md; usage and choices in docs/make_table.md).
namespace pbench {
int make_table_main(int argc, char** argv);
}
