/* Plain-C reference of every layer, in double precision: small and obviously
 * correct, used by the tests (finite differences, and oneDNN against it).
 * Layouts: activations NCHW, conv weights OIHW, linear weights [out][in].
 * Backward functions set (not accumulate) every output gradient; any dx may be NULL. */
#ifndef VEIL_NN_REF_H
#define VEIL_NN_REF_H

#include <stddef.h>
#include "veil/nn.h"

/* Conv2d, stride 1, 'same' padding: top/left (k-1)/2, bottom/right k-1-(k-1)/2
 * (so an even 2x2 kernel pads right/bottom only). */
void ref_conv2d_forward(const double *x, int n, int cin, int h, int w, const double *wt,
                        const double *bias, int cout, int k, double *y);
void ref_conv2d_backward(const double *x, int n, int cin, int h, int w, const double *wt, int cout,
                         int k, const double *dy, double *dx, double *dwt, double *dbias);

void ref_relu_forward(const double *x, size_t count, double *y);
void ref_relu_backward(const double *x, const double *dy, size_t count, double *dx);

/* MaxPool 2x2 stride 2 (h, w even); ties go to the first maximum in row-major order. */
void ref_maxpool2_forward(const double *x, int n, int c, int h, int w, double *y);
void ref_maxpool2_backward(const double *x, int n, int c, int h, int w, const double *dy, double *dx);

/* BatchNorm2d. Training: normalise with the batch mean and biased variance; mean/var
 * (length c) receive the batch statistics. Evaluation: use the given running ones. */
void ref_batchnorm_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean,
                                 double *var);
void ref_batchnorm_backward(const double *x, int n, int c, int hw, const double *gamma,
                            const double *mean, const double *var, double eps, const double *dy,
                            double *dx, double *dgamma, double *dbeta);
void ref_batchnorm_forward_eval(const double *x, int n, int c, int hw, const double *gamma,
                                const double *beta, const double *mean, const double *var,
                                double eps, double *y);

/* A linear map at each of hw positions (a 1x1 convolution) of an [n][in][hw] input:
 * y[b][o][p] = bias[o] + sum_i wt[o][i] x[b][i][p], wt [out][in], bias optional. */
void ref_pointwise_forward(const double *x, int n, int in, int hw, const double *wt, const double *bias,
                           int out, double *y);
void ref_pointwise_backward(const double *x, int n, int in, int hw, const double *wt, int out,
                            const double *dy, double *dx, double *dwt, double *dbias);

/* Linear: y = x W^T + b, W is [out][in] (the pointwise map at one position). */
void ref_linear_forward(const double *x, int n, int in, const double *wt, const double *bias,
                        int out, double *y);
void ref_linear_backward(const double *x, int n, int in, const double *wt, int out,
                         const double *dy, double *dx, double *dwt, double *dbias);

/* Dropout with an explicit keep mask (1 keep, 0 drop): y = x * mask / (1 - p). */
void ref_dropout_forward(const double *x, const unsigned char *mask, size_t count, double p,
                         double *y);
void ref_dropout_backward(const double *dy, const unsigned char *mask, size_t count, double p,
                          double *dx);

/* Losses, means over the batch; the same definitions as veil_softmax_xent/veil_contrastive. */
double ref_softmax_xent(const double *logits, const int *labels, int n, int classes,
                        double *dlogits);
double ref_contrastive(const double *z1, const double *z2, const int *y, int n, int dim,
                       double margin, double *dz1, double *dz2);

/* Variational information: the log-variance layer, a per-position linear map of the
 * C x hw map mu (the pointwise map with in = out = C): y[b][o][p] = bias[o] + sum_c wt[o][c] mu[b][c][p];
 * the reparameterisation z = mu + exp(logvar/2) eps (dmu = dz, dlogvar = dz eps
 * exp(logvar/2) / 2); the KL term mean_b 1/2 sum (mu^2 + exp(logvar) - logvar - 1). */
void ref_logvar_forward(const double *mu, int n, int c, int hw, const double *wt, const double *bias,
                        double *y);
void ref_logvar_backward(const double *mu, int n, int c, int hw, const double *wt, const double *dy,
                         double *dmu, double *dwt, double *dbias);
void ref_reparam_forward(const double *mu, const double *logvar, const double *eps, size_t count,
                         double *z);
void ref_reparam_backward(const double *dz, const double *logvar, const double *eps, size_t count,
                          double *dmu, double *dlogvar);
double ref_kl_normal(const double *mu, const double *logvar, int n, int dim, double *dmu,
                     double *dlogvar);

/* Whole extractor / head in evaluation or training mode from a parameter list laid out
 * as veil_extractor_params()/veil_head_params() return it (values converted to double).
 * Training mode of the extractor uses batch statistics; the head's training mode takes
 * the dropout mask explicitly (NULL = no dropout). Outputs n x dim / n x classes. */
void ref_extractor_forward(const veil_extractor_config *c, const veil_param *params, const double *x,
                           int n, int train, double *z);
void ref_head_forward(const veil_head_config *c, const veil_param *params, const double *x, int n,
                      const unsigned char *dropout_mask, double *logits);

#endif
