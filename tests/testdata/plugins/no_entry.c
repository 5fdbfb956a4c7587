/* Exports nothing fleet knows. */
int not_a_plugin(void) { return 1; }
