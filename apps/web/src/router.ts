import { createRouter, createWebHistory } from 'vue-router';
import { useAuthStore } from './stores/auth-store';
import FeedView from './views/feed-view.vue';

declare module 'vue-router' {
  interface RouteMeta {
    requiresAuth?: boolean;
    guestOnly?: boolean;
    fullBleed?: boolean;
  }
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/', name: 'feed', component: FeedView, meta: { fullBleed: true } },
    { path: '/v/:id', name: 'video', component: () => import('./views/video-view.vue'), props: true },
    { path: '/u/:id', name: 'profile', component: () => import('./views/profile-view.vue'), props: true },
    {
      path: '/me',
      name: 'me',
      redirect: () => {
        const auth = useAuthStore();
        return auth.accountId === null ? { name: 'login', query: { next: '/me' } } : `/u/${auth.accountId}`;
      },
    },
    {
      path: '/publish',
      name: 'publish',
      component: () => import('./views/publish-view.vue'),
      meta: { requiresAuth: true },
    },
    {
      path: '/settings',
      name: 'settings',
      component: () => import('./views/settings-view.vue'),
      meta: { requiresAuth: true },
    },
    {
      path: '/messages',
      name: 'messages',
      component: () => import('./views/messages-view.vue'),
      meta: { requiresAuth: true },
    },
    {
      path: '/messages/:id',
      name: 'chat',
      component: () => import('./views/chat-view.vue'),
      props: true,
      meta: { requiresAuth: true, fullBleed: true },
    },
    {
      path: '/notifications',
      name: 'notifications',
      component: () => import('./views/notifications-view.vue'),
      meta: { requiresAuth: true },
    },
    { path: '/tag/:name', name: 'tag', component: () => import('./views/tag-view.vue'), props: true },
    {
      path: '/login',
      name: 'login',
      component: () => import('./views/login-view.vue'),
      meta: { guestOnly: true },
    },
    {
      path: '/register',
      name: 'register',
      component: () => import('./views/register-view.vue'),
      meta: { guestOnly: true },
    },
    { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('./views/not-found-view.vue') },
  ],
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
});

router.beforeEach((to) => {
  const auth = useAuthStore();
  if (to.meta.requiresAuth && !auth.loggedIn) return { name: 'login', query: { next: to.fullPath } };
  if (to.meta.guestOnly && auth.loggedIn) return { path: '/' };
  return true;
});
