/* Variational information (Nelus & Martin, ICASSP 2019): the log-variance layer on the
 * extractor's last pooled map (a 1x1 convolution C -> C on oneDNN, forward and backward
 * side by side like every layer), and the reparameterisation z = mu + exp(logvar/2) eps
 * in plain C (elementwise, cheap next to the convolutions). The KL term is a loss and
 * lives in nn_loss.c. docs/network.md explains the choices. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/nn_dnnl.h"

/* ---------------- reparameterisation ---------------- */
void veil_reparam_forward(const float *mu, const float *logvar, const float *eps, size_t count, float *z)
{
    for (size_t i = 0; i < count; i++) z[i] = mu[i] + expf(0.5f * logvar[i]) * eps[i];
}

void veil_reparam_backward(const float *dz, const float *logvar, const float *eps, size_t count,
                           float *dlogvar)
{
    for (size_t i = 0; i < count; i++) dlogvar[i] = dz[i] * eps[i] * 0.5f * expf(0.5f * logvar[i]);
}

/* ---------------- the log-variance layer ---------------- */
struct veil_logvar {
    int channels, side, dim, max_batch;
    veil_precision precision;
    veil_param params[2];
    vd_nets nets; /* also the last training net and the weights version */
};

typedef struct logvar_net {
    vd_net net;
    dnnl_memory_t mu, logvar, dlogvar, dmu;
} logvar_net;

veil_logvar *veil_logvar_new(const veil_extractor_config *c, int max_batch, veil_precision precision,
                             uint64_t seed, float bias_init)
{
    veil_precision p;
    if (veil_extractor_config_validate(c) || veil_precision_resolve(precision, &p)) return NULL;
    if (max_batch < 1) {
        veil_error("log-variance layer: max_batch must be >= 1, got %d", max_batch);
        return NULL;
    }
    if (!isfinite(bias_init)) {
        veil_error("log-variance layer: initial bias %g is not finite", (double)bias_init);
        return NULL;
    }
    if (c->out_dim > 0 || c->groups < 1) { /* the log-variance is a 1x1 convolution of the pooled map */
        veil_error("log-variance layer: needs an extractor whose output is a pooled map (groups >= 1 and out_dim 0, "
                   "got %d and %d)", c->groups, c->out_dim);
        return NULL;
    }
    if (!vd_engine()) return NULL;
    veil_logvar *v = veil_calloc(1, sizeof *v);
    v->channels = c->filters[c->groups - 1];
    v->side = c->in_h >> c->groups;
    v->dim = veil_extractor_config_dim(c);
    v->max_batch = max_batch;
    v->precision = p;
    int64_t ch = v->channels, wshape[4] = {ch, ch, 1, 1};
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    vd_param_init(&v->params[0], "vib.logvar.weight", 4, wshape, 0);
    vd_param_uniform(&v->params[0], &rng, 1.0 / sqrt((double)ch));
    vd_param_init(&v->params[1], "vib.logvar.bias", 1, &ch, 0);
    vd_param_fill(&v->params[1], bias_init);
    return v;
}

void veil_logvar_free(veil_logvar *v)
{
    if (!v) return;
    vd_nets_free(&v->nets);
    vd_params_free(v->params, 2);
    free(v);
}

int veil_logvar_dim(const veil_logvar *v) { return v->dim; }
veil_param *veil_logvar_params(veil_logvar *v, int *count)
{
    if (count) *count = 2;
    return v->params;
}
void veil_logvar_params_changed(veil_logvar *v) { v->nets.version++; }

static vd_net *logvar_build(void *model, int n, int train)
{
    veil_logvar *v = model;
    logvar_net *e = veil_calloc(1, sizeof *e);
    vd_net *net = &e->net;
    vd_net_init(net, n, train, vd_act_type(v->precision));
    /* mu and logvar are the flattened NCHW maps: plain fp32 n x C x s x s */
    int64_t d[4] = {n, v->channels, v->side, v->side};
    dnnl_memory_desc_t md;
    vd_md_plain(&md, 4, d, dnnl_f32);
    vd_tensor t, u;
    e->mu = vd_user(net, &md, NULL);
    if (!e->mu || vd_tensor_new(net, &md, 0, &t) || vd_reorder_add(net, VD_FWD, e->mu, t.mem)) goto fail;
    if (train) {
        /* dmu: copied out only when the caller asks for it */
        net->dx_only = 1;
        e->dmu = vd_user(net, &md, NULL);
        if (!e->dmu || vd_reorder_add(net, VD_BWD, t.dmem, e->dmu)) goto fail;
        net->dx_only = 0;
    }
    net->block++;
    /* 1x1 convolution, no activation: 'same' padding of a 1x1 kernel is none */
    if (vd_conv_build(net, &t, &v->params[0], &v->params[1], 0, &u)) goto fail;
    net->block++;
    e->logvar = vd_user(net, &md, NULL);
    if (!e->logvar || vd_reorder_add(net, VD_FWD, u.mem, e->logvar)) goto fail;
    if (train) {
        e->dlogvar = vd_user(net, &md, NULL);
        if (!e->dlogvar || vd_reorder_add(net, VD_BWD, e->dlogvar, u.dmem)) goto fail;
    }
    vd_net_finalize(net);
    return net;
fail:
    veil_error_prefix("log-variance layer (%d channels, %dx%d, batch %d)", v->channels, v->side, v->side, n);
    vd_net_free(net);
    free(e);
    return NULL;
}

int veil_logvar_forward(veil_logvar *v, const float *mu, int n, int train, float *logvar)
{
    logvar_net *e =
        (logvar_net *)vd_nets_ready(&v->nets, "log-variance layer", v->max_batch, n, train, logvar_build, v);
    if (!e) return -1;
    dnnl_memory_set_data_handle(e->mu, (void *)mu);
    dnnl_memory_set_data_handle(e->logvar, logvar);
    return vd_nets_forward(&v->nets, &e->net, train);
}

int veil_logvar_backward(veil_logvar *v, const float *dlogvar, float *dmu)
{
    logvar_net *e = (logvar_net *)vd_nets_last_train(&v->nets, "log-variance layer");
    if (!e) return -1;
    dnnl_memory_set_data_handle(e->dlogvar, (void *)dlogvar);
    if (dmu) dnnl_memory_set_data_handle(e->dmu, dmu);
    return vd_net_run(&e->net, VD_BWD, dmu != NULL);
}
