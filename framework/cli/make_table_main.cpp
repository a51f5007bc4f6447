#include "framework/report/make_table_app.hpp"

int main(int argc, char** argv) { return pbench::make_table_main(argc, argv); }
