/* Rows of the training settings (--lr, --adv-lambda, ...): veil train and veil
 * experiment take every setting of every method from the methods' own tables. */
#include <stdlib.h>

#include "cli.h"
#include "veil/common.h"
#include "research/train/method.h"

static int take_setting(void *tc, const char *name, const char *value)
{
    return veil_train_config_set(tc, name + 2, value);
}

void cli_setting_rows(cli_rows *r, int without_knobs)
{
    int n;
    veil_setting_option *o = veil_train_setting_options(&n);
    for (int i = 0; i < n; i++) {
        if (without_knobs && o[i].knob_of >= 0) continue;
        char *name = veil_strdup(o[i].option), *help = veil_strdup(o[i].help);
        cli_rows_add(r, (cli_option)CLI_CALL_ROW(name, "N", take_setting, help), name, help);
    }
    free(o);
}
